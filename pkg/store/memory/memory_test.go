package memory

import (
	"bytes"
	"slices"
	"testing"

	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New:     func(t *testing.T) store.Backend { return New() },
		Reopen:  func(t *testing.T, b store.Backend) store.Backend { return b },
		Corrupt: corrupt,
	})
}

// corrupt replaces a committed row with a changed copy, behind the store's
// back.
func corrupt(t *testing.T, sb store.Backend, c storetest.Corruption) {
	b := sb.(*Backend)
	b.mu.Lock()
	defer b.mu.Unlock()
	d := b.data
	bytesOf := func() []byte {
		switch v := c.Value.(type) {
		case []byte:
			return bytes.Clone(v)
		case string:
			return []byte(v)
		}
		t.Fatalf("corrupt %s.%s: value %T", c.Table, c.Column, c.Value)
		return nil
	}
	switch c.Table {
	case "envelopes":
		r := *d.envs[c.Key.(uint64)-1]
		switch c.Column {
		case "payload":
			r.Payload = bytesOf()
		case "content_hash":
			r.ContentHash = scalar.Digest(bytesOf())
		case "chain_hash":
			r.ChainHash = scalar.Digest(bytesOf())
		case "event_type":
			r.EventType = string(bytesOf())
		default:
			t.Fatalf("corrupt: no column envelopes.%s", c.Column)
		}
		d.envs[c.Key.(uint64)-1] = &r
	case "segments":
		r := *d.segs[c.Key.(int64)-1]
		switch c.Column {
		case "genesis":
			r.Genesis = bytesOf()
		case "seal":
			r.Seal = bytesOf()
		case "head":
			r.Head = scalar.Digest(bytesOf())
		case "envelope_count":
			r.Count = uint64(c.Value.(int64))
		default:
			t.Fatalf("corrupt: no column segments.%s", c.Column)
		}
		d.segs[c.Key.(int64)-1] = &r
	case "attachments":
		d.blobs[c.Key.(scalar.Digest)] = bytesOf()
	case "key_epochs":
		i := c.Key.(int64) - 1
		r := *d.keys[i]
		switch c.Column {
		case "key_id":
			r.KeyID = scalar.KeyID(bytesOf())
		case "public_key":
			r.PublicKey = bytesOf()
		case "position":
			r.Position = uint64(c.Value.(int64))
		default:
			t.Fatalf("corrupt: no column key_epochs.%s", c.Column)
		}
		keys := slices.Clone(d.keys)
		keys[i] = &r
		d.keys = keys
	default:
		t.Fatalf("corrupt: no table %s", c.Table)
	}
}
