// Package stream reads and writes Arxi's NDJSON streams (SPEC §6).
//
// A LineReader splits input into lines of bounded length. A Reader turns
// lines into evidence records in one of two modes:
//
//   - Unsealed: the input of arxi-seal. Lines are any strict JSON object
//     (whitespace and member order are free) holding unsealed envelopes or
//     attachment records.
//   - Sealed: sealed streams and bundle bodies. Every line must already be
//     exactly the line Arxi writes for its record (canonical JSON, normalised
//     timestamps), so each record has one byte form and the bytes read are
//     the bytes that were hashed and signed. Records are genesis,
//     attachment, envelope, elided or seal.
//
// Every error names its line: "line N: code: message". Readers stop at the
// first error and never buffer more than one line.
package stream

import (
	"bufio"
	"errors"
	"io"
	"strconv"

	"arxi.dev/arxi/pkg/canonical"
	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/evidence"
	"arxi.dev/arxi/pkg/zstdio"
)

// LineReader reads newline-terminated lines of at most a fixed length.
type LineReader struct {
	r    *bufio.Reader
	max  int
	line int64
	buf  []byte
	err  error
	head []byte // the input's first bytes, for telling what it is
	read bool   // head is set
}

// NewLineReader reads lines of at most max bytes (not counting the newline)
// from r.
func NewLineReader(r io.Reader, max int) *LineReader {
	return &LineReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// Line is the number of the last line returned (1-based).
func (l *LineReader) Line() int64 { return l.line }

// Buffered is the number of bytes read from the input and not yet
// returned: when it is 0, the next call reads the input, and may wait.
func (l *LineReader) Buffered() int { return l.r.Buffered() }

// Head returns the first bytes of the input (up to 16), once a line has
// been read, whether it could be returned or not.
func (l *LineReader) Head() []byte { return l.head }

// Next returns the next line without its newline; the slice is valid until
// the next call. It returns io.EOF after the last line. A line longer than
// the limit is input.too_large, an empty or whitespace-only line and a last
// line without its newline are input.malformed_json; after an error every
// call returns the same error.
func (l *LineReader) Next() ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	line, err := l.next()
	if err != nil {
		l.err = err
	}
	return line, err
}

func (l *LineReader) next() ([]byte, error) {
	l.buf = l.buf[:0]
	for {
		chunk, err := l.r.ReadSlice('\n')
		if !l.read {
			l.read = true
			l.head = append([]byte(nil), chunk[:min(len(chunk), 16)]...)
		}
		switch {
		case err == nil:
			l.line++
			line := chunk[:len(chunk)-1]
			if len(l.buf) > 0 {
				l.buf = append(l.buf, line...)
				line = l.buf
			}
			if len(line) > l.max {
				return nil, l.tooLarge()
			}
			if isBlank(line) {
				return nil, &errcode.Error{Code: errcode.InputMalformedJSON, Line: l.line, Msg: "blank line"}
			}
			return line, nil
		case errors.Is(err, bufio.ErrBufferFull):
			if len(l.buf)+len(chunk) > l.max {
				l.line++
				return nil, l.tooLarge()
			}
			l.buf = append(l.buf, chunk...)
		case errors.Is(err, io.EOF):
			if len(l.buf)+len(chunk) == 0 {
				return nil, io.EOF
			}
			l.line++
			return nil, &errcode.Error{Code: errcode.InputMalformedJSON, Line: l.line,
				Msg: "last line has no newline (truncated input?)"}
		default:
			// A reader that already knows what went wrong (a zstd decoder
			// meeting a corrupt frame, say) keeps its code; anything else is
			// an I/O failure.
			if e, ok := errcode.As(err); ok {
				return nil, errcode.AtLine(e, l.line+1)
			}
			return nil, &errcode.Error{Code: errcode.IOFailed, Line: l.line + 1, Msg: "read input", Err: err}
		}
	}
}

func (l *LineReader) tooLarge() error {
	return &errcode.Error{Code: errcode.InputTooLarge, Line: l.line, Msg: "line exceeds " + strconv.Itoa(l.max) + " bytes"}
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// Mode selects what a Reader accepts.
type Mode uint8

// The reader modes.
const (
	// Unsealed accepts unsealed envelopes and attachment records in any
	// strict JSON formatting.
	Unsealed Mode = iota
	// Sealed accepts canonical genesis, attachment, envelope, elided and
	// seal lines.
	Sealed
)

// Reader decodes evidence records from a stream, one per line.
//
// Records and Raw stay valid after the next call: a Reader copies each
// line once, into memory it never reuses (256 KiB at a time), and the
// records' strings share it, so a caller may keep what it reads without
// copying.
type Reader struct {
	lines *LineReader
	mode  Mode
	dec   *evidence.Decoder
	arena []byte
	raw   []byte
}

// arenaSize is the memory a Reader takes at a time for its lines.
const arenaSize = 256 << 10

// NewReader returns a Reader over r, plain or zstd (detected by its magic
// bytes, SPEC §9.1). Zero fields of lim take the defaults.
func NewReader(r io.Reader, mode Mode, lim evidence.Limits) *Reader {
	lim = lim.WithDefaults()
	return &Reader{lines: NewLineReader(zstdio.Auto(r), lim.Line), mode: mode, dec: evidence.NewDecoder(lim)}
}

// Line is the number of the last line read.
func (r *Reader) Line() int64 { return r.lines.Line() }

// Raw is the canonical form of the last line read, or nil when it was not
// valid (canonical) JSON. In Sealed mode it equals the input line.
func (r *Reader) Raw() []byte { return r.raw }

// room returns the arena with room for n more bytes.
func (r *Reader) room(n int) []byte {
	if cap(r.arena)-len(r.arena) < n {
		r.arena = make([]byte, 0, max(arenaSize, n))
	}
	return r.arena
}

// keep copies line into the arena.
func (r *Reader) keep(line []byte) []byte {
	a := r.room(len(line))
	start := len(a)
	r.arena = append(a, line...)
	return r.arena[start:len(r.arena):len(r.arena)]
}

// NextLine reads the next line and returns its canonical form without
// decoding it (used for lines that are not evidence records, such as a
// bundle manifest). In Sealed mode a line that is not already canonical is
// input.not_canonical.
func (r *Reader) NextLine() ([]byte, error) {
	r.raw = nil
	line, err := r.lines.Next()
	if err != nil {
		return nil, r.first(err, nil)
	}
	if r.mode == Sealed {
		if err := r.dec.Canonical(line); err != nil {
			return nil, r.first(errcode.AtLine(err, r.lines.Line()), line)
		}
		r.raw = r.keep(line)
		return r.raw, nil
	}
	a := r.room(2*len(line) + 64)
	out, err := canonical.Append(a, line)
	if err != nil {
		return nil, r.first(errcode.AtLine(err, r.lines.Line()), line)
	}
	r.arena = out
	r.raw = out[len(a):len(out):len(out)]
	return r.raw, nil
}

// first replaces an error on the input's first line by input.wrong_kind
// when the input is another kind of Arxi file.
func (r *Reader) first(err error, line []byte) error {
	if r.lines.Line() > 1 {
		return err
	}
	return onFirst(r.mode, err, r.lines.Head(), line)
}

// onFirst replaces err, the error of an input's first line (line, or the
// input's first bytes head when no line could be read), by
// input.wrong_kind when the input is another kind of Arxi file.
func onFirst(mode Mode, err error, head, line []byte) error {
	if errors.Is(err, io.EOF) {
		return err
	}
	if wk := wrongKind(mode, head, line); wk != nil {
		return wk
	}
	return err
}

// Next reads and decodes the next record. It returns io.EOF after the last.
func (r *Reader) Next() (evidence.Record, error) {
	r.raw = nil
	line, err := r.lines.Next()
	if err != nil {
		return nil, r.first(err, nil)
	}
	var rec evidence.Record
	if r.mode == Sealed {
		raw := r.keep(line)
		rec, err = r.dec.Sealed(raw)
		if r.dec.WasCanonical() {
			r.raw = raw
		} else {
			r.arena = r.arena[:len(r.arena)-len(raw)] // not kept: reuse
		}
	} else {
		// Canonical numbers can be longer than their input ("1e15").
		a := r.room(2*len(line) + 64)
		var out []byte
		rec, out, err = r.dec.Unsealed(a, line)
		if rec != nil {
			r.arena = out
			r.raw = out[len(a):len(out):len(out)]
		}
	}
	if err != nil {
		err = errcode.AtLine(err, r.lines.Line())
		if r.mode == Sealed && r.dec.Decoded() {
			return nil, err // a record, not in its normal form
		}
		// line is still the input line: the one that is not canonical
		// JSON, or whose canonical form does not decode.
		return nil, r.first(err, line)
	}
	if !r.mode.allows(rec.Kind()) {
		if r.lines.Line() == 1 {
			if wk := wrongKind(r.mode, nil, line); wk != nil {
				return nil, wk
			}
		}
		return nil, errcode.AtLine(r.mode.unexpected(rec.Kind()), r.lines.Line())
	}
	return rec, nil
}

func (m Mode) allows(k evidence.Kind) bool {
	if m == Unsealed {
		return k == evidence.KindUnsealed || k == evidence.KindAttachment
	}
	return k != evidence.KindUnsealed
}

// unexpected reports a record of kind k in a stream of mode m.
func (m Mode) unexpected(k evidence.Kind) error {
	want := "unsealed envelopes and attachment records"
	if m == Sealed {
		want = "genesis, attachment, envelope, elided and seal records"
	}
	return errcode.New(errcode.InputUnexpectedRecord, "%s record in a stream of %s", k, want)
}

// Writer writes records as canonical lines.
type Writer struct {
	w   *bufio.Writer
	buf []byte
}

// NewWriter returns a buffered Writer over w; call Flush when done.
func NewWriter(w io.Writer) *Writer { return &Writer{w: bufio.NewWriterSize(w, 256<<10)} }

// Write writes one record line.
func (w *Writer) Write(rec evidence.Record) error {
	w.buf = rec.AppendJCS(w.buf[:0])
	w.buf = append(w.buf, '\n')
	return w.write(w.buf)
}

// WriteLine writes an already canonical line and a newline.
func (w *Writer) WriteLine(line []byte) error {
	if err := w.write(line); err != nil {
		return err
	}
	return w.write([]byte{'\n'})
}

func (w *Writer) write(b []byte) error {
	if _, err := w.w.Write(b); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}

// Flush writes buffered lines to the underlying writer.
func (w *Writer) Flush() error {
	if err := w.w.Flush(); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write output")
	}
	return nil
}
