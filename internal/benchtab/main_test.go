package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestTable(t *testing.T) {
	in := `goos: linux
pkg: arxi.dev/arxi/pkg/sealing
BenchmarkSeal     	       3	 156586814 ns/op	 132.05 MB/s	        13.00 allocs/envelope	    127725 envelopes/s
BenchmarkSealRSS-2   	       1	16259115506 ns/op	     61504 envelopes/s	        14.20 peak-RSS-MiB
PASS
`
	var out, pass bytes.Buffer
	rows, units := parse(strings.NewReader(in), &pass)
	write(&out, rows, units)
	want := `benchmark          envelopes/s    MB/s  allocs/envelope  peak-RSS-MiB        ns/op
----------------------------------------------------------------------------------
sealing.Seal            127725  132.05            13.00             -    156586814
sealing.SealRSS-2        61504       -                -         14.20  16259115506
`
	if out.String() != want {
		t.Errorf("table =\n%s\nwant\n%s", out.String(), want)
	}
	if !strings.Contains(pass.String(), "PASS") || strings.Contains(pass.String(), "Benchmark") {
		t.Errorf("passthrough = %q", pass.String())
	}
}
