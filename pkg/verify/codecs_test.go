package verify_test

import (
	"bytes"
	"flag"
	"os"
	"strings"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/verify"
	"arxi.dev/arxi/pkg/zstdio"
)

var update = flag.Bool("update", false, "rewrite this build's codec's file in testdata")

// TestCodecsAgree: a bundle compressed by the cgo codec (libzstd) and the
// same bundle compressed by the pure-Go codec (CGO_ENABLED=0) both verify
// with this build's codec, to the verdict of the plain bundle. make test
// runs it in both builds, so each codec reads the other's output.
// testdata/bundle.cgo.zst and testdata/bundle.purego.zst hold the two
// compressions of fixture.MustBuild(baseStream(), baseSelector());
// go test -update rewrites the file of the build's own codec (run it with
// CGO_ENABLED=0 too after a deliberate format change).
func TestCodecsAgree(t *testing.T) {
	b := fixture.MustBuild(t, baseStream(), baseSelector())
	if *update {
		own := "purego"
		if strings.Contains(zstdio.Codec, "cgo") {
			own = "cgo"
		}
		if err := os.WriteFile("testdata/bundle."+own+".zst", compress(t, b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := run(t, b, verify.Config{}).AppendJCS(nil)
	for _, codec := range []string{"cgo", "purego"} {
		z, err := os.ReadFile("testdata/bundle." + codec + ".zst")
		if err != nil {
			t.Fatal(err)
		}
		if !zstdio.IsZstd(z) {
			t.Fatalf("%s: not zstd", codec)
		}
		if got := run(t, z, verify.Config{}).AppendJCS(nil); !bytes.Equal(got, want) {
			t.Errorf("the %s codec's bundle verifies under %s to\n%s\nwant\n%s", codec, zstdio.Codec, got, want)
		}
	}
}
