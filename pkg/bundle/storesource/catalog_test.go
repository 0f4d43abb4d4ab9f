package storesource_test

import (
	"bytes"
	"context"
	"testing"

	"arxi.dev/arxi/internal/bundletest"
	"arxi.dev/arxi/pkg/bundle"
	"arxi.dev/arxi/pkg/bundle/storesource"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
	"arxi.dev/arxi/pkg/store"
	"arxi.dev/arxi/pkg/store/memory"
	"arxi.dev/arxi/pkg/store/storetest"
)

// TestCatalog: the catalog lists every sealed segment (not the open one)
// with the id of its canonical bundle, the bundle of {"segments":[id]};
// pages through them with cursors; fetches each by id byte for byte as
// that bundle; and refuses unknown ids.
func TestCatalog(t *testing.T) {
	ctx := context.Background()
	s := storetest.Fill(t, memory.New(), bundletest.Stream(bundletest.Options{Envelopes: 23, PerSegment: 5, AttachEvery: 3, LeaveOpen: true}))
	defer s.Close()
	sn, err := s.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sn.Close()
	var c storesource.Catalog
	var all []storesource.Entry
	cursor := ""
	pages := 0
	for {
		entries, next, err := c.List(ctx, sn, cursor, 2)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, entries...)
		pages++
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 4 || pages != 3 {
		t.Fatalf("listed %d bundles in %d pages, want 4 sealed segments (the fifth is open) in 3 pages", len(all), pages)
	}
	for _, e := range all {
		var want bytes.Buffer
		m, err := bundle.Build(ctx, storesource.New(sn), bundle.Selector{Segments: []scalar.UUID{e.SegmentID}}, &want, bundle.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if m.BundleID != e.BundleID || e.EnvelopeCount != 5 {
			t.Errorf("entry %+v; the segment's bundle has id %s", e, m.BundleID)
		}
		var got bytes.Buffer
		if err := c.Fetch(ctx, sn, e.BundleID, &got, bundle.Options{}); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			t.Errorf("Fetch(%s) differs from the segment's bundle", e.BundleID)
		}
		// A fresh catalog derives the same id.
		if g, err := new(storesource.Catalog).Find(ctx, sn, e.BundleID); err != nil || g.ID() != e.SegmentID {
			t.Errorf("Find(%s) = %v, %v", e.BundleID, g, err)
		}
	}
	if got := string(all[0].AppendJSON(nil)); got != `{"bundle_id":"`+all[0].BundleID.String()+`","envelope_count":5,"sealed_at":"`+all[0].SealedAt.String()+`","segment_id":"`+all[0].SegmentID.String()+`"}` {
		t.Errorf("entry JSON = %s", got)
	}
	// An id with a listed bundle's time but another hash, and a cursor of
	// another kind, are refused.
	other := all[0].BundleID
	other[15] ^= 1
	var out bytes.Buffer
	if err := c.Fetch(ctx, sn, other, &out, bundle.Options{}); errcode.CodeOf(err) != errcode.BundleNotFound || out.Len() != 0 {
		t.Errorf("unknown id: %v, %d bytes written", err, out.Len())
	}
	p, _ := sn.Query(ctx, store.Filter{}, "", 1)
	if _, _, err := c.List(ctx, sn, p.Next, 2); errcode.CodeOf(err) != errcode.UsageInvalid {
		t.Errorf("a query cursor: %v", err)
	}
}

// TestPlan: Plan learns the manifest Build writes, for every kind of
// selector, without writing the bundle.
func TestPlan(t *testing.T) {
	ctx := context.Background()
	s := storetest.Fill(t, memory.New(), bundletest.Stream(bundletest.Options{Envelopes: 30, PerSegment: 7, AttachEvery: 4, LeaveOpen: true}))
	defer s.Close()
	sn, _ := s.Snapshot(ctx)
	defer sn.Close()
	for _, sel := range []bundle.Selector{{All: true}, {TraceIDs: []scalar.Label{scalar.MustLabel("trace-2")}},
		{EventTypes: []scalar.Token{scalar.MustToken("model.reply")}}} {
		if err := sel.Normalize(); err != nil {
			t.Fatal(err)
		}
		built, err := bundle.Build(ctx, storesource.New(sn), sel, &bytes.Buffer{}, bundle.Options{})
		if err != nil {
			t.Fatal(err)
		}
		planned, err := bundle.Plan(ctx, storesource.New(sn), sel, bundle.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := planned.AppendJCS(nil), built.AppendJCS(nil); !bytes.Equal(got, want) {
			t.Errorf("%s: Plan = %s\nBuild = %s", sel.String(), got, want)
		}
	}
}
