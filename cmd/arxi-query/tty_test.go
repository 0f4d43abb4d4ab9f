//go:build unix

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/clitest"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestMorePagesOnTerminal: without --all, a page with more after it says
// so on a terminal's stderr; the last page, and --all, say nothing.
func TestMorePagesOnTerminal(t *testing.T) {
	path := filepath.Join(t.TempDir(), "arxi.db")
	if err := appendTo(path, storetest.Seal(t, sealing.Config{}, storetest.Events(0, 5), true)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		note bool
	}{
		{[]string{"--limit", "2"}, true},
		{[]string{"--limit", "5"}, false},
		{[]string{"--limit", "2", "--all"}, false},
	} {
		term := clitest.NewTerminal(t)
		var out bytes.Buffer
		code := run(context.Background(), append([]string{"--store", path}, tc.args...), nil, &out, term.Tty)
		if code != 0 {
			t.Fatalf("%q: exit %d", tc.args, code)
		}
		if tc.note {
			term.Expect(t, "arxi-query: more matches: pass the page's next_cursor as --cursor for the next page, or --all for every one")
		} else if strings.Contains(term.Output(), "more matches") {
			t.Errorf("%q: %q", tc.args, term.Output())
		}
	}
}
