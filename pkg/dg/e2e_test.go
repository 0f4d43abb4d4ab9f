package dg_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"path/filepath"
	"testing"

	"arxi.dev/arxi/internal/bundletest/fixture"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/dg"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/sealing"
	"arxi.dev/arxi/pkg/stream"
	"arxi.dev/arxi/pkg/verify"
	"github.com/tidwall/gjson"
)

// e2eRoots are DG's own root hashes of the golden runpacks.
var e2eRoots = map[string]string{
	"golden_time_after_pass":   "fceca5534f343d4266f89d29a1519a6c0ed2935964ad5757a70ed58661dba228",
	"golden_visibility_packet": "3ae18bfe63690d16e27a68ede93b6143f3d86ed1d510936f18891df133c55721",
}

// pipeline runs arxi-dg --attach-artifacts | arxi-seal --seal-at-end in
// process and returns the sealed stream.
func pipeline(t *testing.T, name string) []byte {
	t.Helper()
	rp, err := dg.Read(filepath.Join("..", "..", "testdata", "dg", name))
	if err != nil {
		t.Fatal(err)
	}
	var unsealed bytes.Buffer
	w := stream.NewWriter(&unsealed)
	if _, err := rp.Map(dg.Config{AttachArtifacts: true}, w.Write); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	s, err := sealing.New(sealing.Config{RecorderID: scalar.MustLabel("dg-recorder")})
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	st, err := sealing.Stream(context.Background(), s, &unsealed, &sealed, sealing.StreamOptions{SealAtEnd: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Seals != 1 || st.Segments != 1 {
		t.Fatalf("sealing stats %+v", st)
	}
	return sealed.Bytes()
}

// rootFromEvidence recomputes DG's root hash from evidence alone: the
// dg.runpack envelope's manifest attachment gives integrity.file_hashes,
// whose JCS form hashes to the root, and every file it lists must be an
// attachment blob hashing to its DG file hash.
func rootFromEvidence(t *testing.T, blobs map[scalar.Digest][]byte, envs []*evidence.Envelope) string {
	t.Helper()
	for _, e := range envs {
		if e.EventType.String() != dg.EventRunpack {
			continue
		}
		msum := gjson.Get(e.Payload, "runpack.manifest_sha256").Str
		var manifest []byte
		for _, a := range e.Attachments {
			if a.Hash.Hex() == msum {
				manifest = blobs[a.Hash]
			}
		}
		if manifest == nil {
			t.Fatal("dg.runpack has no manifest attachment")
		}
		fh := gjson.GetBytes(manifest, "integrity.file_hashes")
		jcs, err := canonical.Transform([]byte(fh.Raw))
		if err != nil {
			t.Fatal(err)
		}
		root := sha256.Sum256(jcs)
		if got := gjson.GetBytes(manifest, "integrity.root_hash.value").Str; got != hex.EncodeToString(root[:]) {
			t.Errorf("manifest root_hash %s, recomputed %x", got, root)
		}
		for _, f := range fh.Array() {
			h, err := scalar.ParseHexDigest(f.Get("hash.value").Str)
			if err != nil {
				t.Fatal(err)
			}
			data, ok := blobs[h]
			if !ok {
				t.Errorf("no attachment for %s", f.Get("path").Str)
				continue
			}
			if sha256.Sum256(data) != h {
				t.Errorf("attachment for %s does not hash to DG's file hash", f.Get("path").Str)
			}
		}
		return hex.EncodeToString(root[:])
	}
	t.Fatal("no dg.runpack envelope")
	return ""
}

// readRecords reads a sealed stream, or a bundle when it starts with a
// manifest line, into its blobs and envelopes.
func readRecords(t *testing.T, b []byte, isBundle bool) (map[scalar.Digest][]byte, []*evidence.Envelope) {
	t.Helper()
	r := stream.NewReader(bytes.NewReader(b), stream.Sealed, evidence.Limits{})
	if isBundle {
		if _, err := r.NextLine(); err != nil {
			t.Fatal(err)
		}
	}
	blobs := map[scalar.Digest][]byte{}
	var envs []*evidence.Envelope
	for {
		rec, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		switch v := rec.(type) {
		case *evidence.Attachment:
			blobs[v.Hash] = append([]byte(nil), v.Data...)
		case *evidence.Envelope:
			envs = append(envs, v)
		}
	}
	return blobs, envs
}

// TestEndToEnd: each golden runpack through arxi-dg | arxi-seal |
// arxi-bundle --from-stream | arxi-verify is valid, and DG's own root hash
// recomputes from the sealed stream and from the bundle.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"golden_time_after_pass", "golden_visibility_packet"} {
		root := e2eRoots[name]
		t.Run(name, func(t *testing.T) {
			sealed := pipeline(t, name)
			blobs, envs := readRecords(t, sealed, false)
			if got := rootFromEvidence(t, blobs, envs); got != root {
				t.Errorf("root from the sealed stream = %s, want %s", got, root)
			}

			b := fixture.MustBuild(t, sealed, bundle.Selector{Stream: true})
			v, err := verify.Bundle(ctx, bytes.NewReader(b), verify.Config{})
			if err != nil {
				t.Fatal(err)
			}
			if !v.Valid() {
				t.Fatalf("verdict: %s", v.AppendJCS(nil))
			}
			blobs, envs = readRecords(t, b, true)
			if got := rootFromEvidence(t, blobs, envs); got != root {
				t.Errorf("root from the bundle = %s, want %s", got, root)
			}
		})
	}
}
