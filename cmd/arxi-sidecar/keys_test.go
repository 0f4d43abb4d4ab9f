package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"arxi.dev/arxi/pkg/signing"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/sqlite"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestStartRefusesKey: on a store whose current signing key (SPEC §11.1)
// is another key than its sign_key, arxi-sidecar refuses to start:
// key.not_current, exit 2.
func TestStartRefusesKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, "unix", map[string]string{"recorder": `sign_key = "key.pem"` + "\n" + `sign_passphrase_file = "key.pass"`})
	keyFiles(t, e.dir) // a new key, not the store's
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(e.dir, "arxi.db")})
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(ctx, db, store.Config{})
	if err != nil {
		t.Fatal(err)
	}
	a := storetest.Key(1)
	storetest.Add(t, s, storetest.Rotate(t, s, storetest.LifecycleOf(signing.Enrolled, 1, nil, a), storetest.At(0), a))
	s.Close()

	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(cctx, os.Args[0], "--config", e.config)
	cmd.Env = append(os.Environ(), childEnv+"=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), "key.not_current") {
		t.Fatalf("arxi-sidecar on a store of another key: %v, want exit 2 with key.not_current; stderr:\n%s", err, stderr.String())
	}
}
