// Command benchtab turns `go test -bench` output on stdin into the table
// `make bench` prints: one row per benchmark, one column per metric, the
// headline metrics (envelopes/s, MB/s, allocs/envelope, peak RSS) first.
// Lines that are not benchmark results pass through to stderr.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

var preferred = []string{"x-base", "speedup", "envelopes/s", "base-envelopes/s", "x-base-bytes", "bytes/envelope", "base-bytes/envelope",
	"cpu-µs/envelope", "MB/s", "allocs/envelope", "peak-RSS-MiB", "ns/op"}

type row struct {
	name    string
	metrics map[string]string
}

func main() {
	rows, units := parse(os.Stdin, os.Stderr)
	write(os.Stdout, rows, units)
}

func parse(r io.Reader, passthrough io.Writer) ([]row, []string) {
	var rows []row
	seen := map[string]bool{}
	var units []string
	pkg := ""
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = p[strings.LastIndex(p, "/")+1:]
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			fmt.Fprintln(passthrough, line)
			continue
		}
		rw := row{name: pkg + "." + strings.TrimPrefix(f[0], "Benchmark"), metrics: map[string]string{}}
		for i := 2; i+1 < len(f); i += 2 {
			unit := f[i+1]
			if unit == "B/op" || unit == "allocs/op" {
				continue
			}
			rw.metrics[unit] = f[i]
			if !seen[unit] {
				seen[unit] = true
				units = append(units, unit)
			}
		}
		rows = append(rows, rw)
	}
	slices.SortStableFunc(units, func(a, b string) int { return rank(a) - rank(b) })
	return rows, units
}

func rank(unit string) int {
	if i := slices.Index(preferred, unit); i >= 0 {
		return i
	}
	return len(preferred)
}

func write(w io.Writer, rows []row, units []string) {
	header := append([]string{"benchmark"}, units...)
	width := make([]int, len(header))
	cells := [][]string{header}
	for _, r := range rows {
		c := []string{r.name}
		for _, u := range units {
			v := r.metrics[u]
			if v == "" {
				v = "-"
			}
			c = append(c, v)
		}
		cells = append(cells, c)
	}
	for _, c := range cells {
		for i, s := range c {
			width[i] = max(width[i], len([]rune(s)))
		}
	}
	for n, c := range cells {
		var b strings.Builder
		for i, s := range c {
			pad := strings.Repeat(" ", width[i]-len([]rune(s)))
			if i == 0 {
				b.WriteString(s + pad)
			} else {
				b.WriteString("  " + pad + s)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			fmt.Fprintln(w, strings.Repeat("-", len([]rune(b.String()))))
		}
	}
}
