// Package targets measures the performance targets of the toolkit's
// binaries (issue 9) against baselines measured in the same run, so that a
// shared, noisy machine still gives meaningful ratios: each iteration runs
// the baseline and the target back to back, in alternating order, and the
// ratios reported are medians over the iterations. The signed
// verification's one-core and two-core runs are short, and each of its
// iterations sums three alternating pairs.
//
//	go test -run '^$' -bench Targets -benchtime 5x ./internal/targets
//
// The data is 100,000 events of 1 KiB (internal/events, events.Bench),
// sealed once; the binaries are built once, with the default build flags.
// Baselines:
//
//   - insert: the same unsealed lines inserted with modernc SQLite through
//     database/sql into a plain table (id, line), WAL, synchronous=FULL, in
//     transactions of 1000 — what storing these bytes costs without Arxi;
//   - sha256sum: coreutils sha256sum of the bundle file that arxi-verify
//     reads (the benchmarks that need it are skipped without it).
package targets
