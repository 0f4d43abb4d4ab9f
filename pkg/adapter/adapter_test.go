package adapter

import (
	"errors"
	"testing"

	"arxi.dev/arxi/pkg/errcode"
)

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Strict, Anomaly} {
		if got, err := ParseMode(m.String(), "mode"); err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v", m, got, err)
		}
	}
	_, err := ParseMode("lenient", "integrity mode")
	if !errors.Is(err, errcode.ConfigInvalid) || err.Error() != `config.invalid: integrity mode "lenient": want strict or anomaly` {
		t.Errorf("ParseMode(lenient) = %v", err)
	}
}
