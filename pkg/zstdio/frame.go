package zstdio

import (
	"encoding/binary"
	"errors"
	"io"
	"strconv"

	"arxi.dev/arxi/pkg/errcode"
)

// maxBlock is zstd's largest block (RFC 8878 §3.1.1.2.3).
const maxBlock = 128 << 10

// guard passes compressed bytes through unchanged while it walks the frame
// and block headers (RFC 8878 §3.1.1), so that a frame asking for more
// memory than maxWindow, or input cut inside a frame, fails before the
// decoder sees it.
type guard struct {
	r         io.Reader
	maxWindow uint64

	state    frameState
	hdr      [14]byte // the header bytes being collected
	have     int      // bytes of hdr collected
	want     int      // bytes of hdr wanted in this state
	skip     uint64   // block or checksum bytes left to pass
	window   uint64
	last     bool // the current block is the frame's last
	sum      bool // the frame ends with a checksum
	frames   int
	boundary bool   // a frame just ended; Read reports io.EOF until next
	stash    []byte // bytes read past the end of a frame
	eof      bool   // the underlying reader is exhausted
	err      error
}

type frameState uint8

const (
	stMagic    frameState = iota // collecting the 4-byte magic number
	stDesc                       // the frame header descriptor byte
	stHeader                     // window descriptor, dictionary id, content size
	stBlock                      // a 3-byte block header
	stBody                       // skipping block content
	stChecksum                   // skipping the 4-byte checksum
)

// sourceError marks an error of the underlying reader, so that the codec's
// wrapping of it can be told apart from corrupt input.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// Read passes compressed bytes through up to the end of the current frame,
// then reports io.EOF until next is called, so that each frame goes to a
// fresh decoder: a codec then never sees two frames, which the C
// library's streaming reader mishandles at the end of input.
func (g *guard) Read(p []byte) (int, error) {
	if g.err != nil {
		return 0, g.err
	}
	if g.boundary || g.eof && len(g.stash) == 0 {
		return 0, io.EOF
	}
	var n int
	var err error
	if len(g.stash) > 0 {
		n = copy(p, g.stash)
		g.stash = g.stash[n:]
	} else {
		n, err = g.r.Read(p)
	}
	used, serr := g.scan(p[:n])
	if serr != nil {
		g.err = serr
		return 0, serr
	}
	if used < n { // a frame ended inside p: keep the rest for the next frame
		g.stash = append(append([]byte(nil), p[used:n]...), g.stash...)
	}
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if g.state != stMagic || g.have != 0 || g.frames == 0 {
			g.err = errcode.New(errcode.InputZstd, "compressed input ends inside a frame (truncated?)")
			return used, g.err
		}
		g.eof = true
		if used == 0 {
			return 0, io.EOF
		}
		return used, nil
	default:
		g.err = &sourceError{err}
		return used, g.err
	}
	return used, nil
}

// next moves past a frame boundary; it reports false at the end of input.
func (g *guard) next() bool {
	if g.eof && len(g.stash) == 0 {
		return false
	}
	g.boundary = false
	return true
}

func (g *guard) bad(format string, args ...any) error {
	return errcode.New(errcode.InputZstd, format, args...)
}

// collect gathers header bytes; it reports how many of b it used and
// whether the header is complete.
func (g *guard) collect(b []byte) (int, bool) {
	n := copy(g.hdr[g.have:g.want], b)
	g.have += n
	return n, g.have == g.want
}

func (g *guard) expect(s frameState, n int) {
	g.state, g.have, g.want = s, 0, n
}

// scan advances the header walk over b and reports how many bytes it
// used: all of b, or the bytes up to the end of a frame.
func (g *guard) scan(b []byte) (int, error) {
	total := len(b)
	for len(b) > 0 {
		if g.boundary {
			return total - len(b), nil
		}
		switch g.state {
		case stMagic:
			if g.want == 0 {
				g.want = 4
			}
			n, done := g.collect(b)
			b = b[n:]
			if !done {
				continue
			}
			m := binary.LittleEndian.Uint32(g.hdr[:4])
			switch {
			case m == 0xFD2FB528:
			case m&0xFFFFFFF0 == 0x184D2A50:
				return 0, g.bad("skippable zstd frames are not accepted")
			case g.frames > 0:
				return 0, g.bad("data after zstd frame %d is not a zstd frame", g.frames)
			default:
				return 0, g.bad("not a zstd frame")
			}
			g.expect(stDesc, 1)
		case stDesc:
			d := b[0]
			b = b[1:]
			if d&0x08 != 0 {
				return 0, g.bad("zstd frame header sets a reserved bit")
			}
			if d&0x03 != 0 {
				return 0, g.bad("zstd frames with a dictionary are not accepted")
			}
			single := d&0x20 != 0
			g.sum = d&0x04 != 0
			n := fcsSize(d)
			if !single {
				n++ // window descriptor
			}
			g.expect(stHeader, n)
			g.hdr[13] = d // keep the descriptor for the header decode
			if n == 0 {
				if err := g.header(); err != nil {
					return 0, err
				}
			}
		case stHeader:
			n, done := g.collect(b)
			b = b[n:]
			if done {
				if err := g.header(); err != nil {
					return 0, err
				}
			}
		case stBlock:
			n, done := g.collect(b)
			b = b[n:]
			if !done {
				continue
			}
			h := uint32(g.hdr[0]) | uint32(g.hdr[1])<<8 | uint32(g.hdr[2])<<16
			g.last = h&1 != 0
			size := uint64(h >> 3)
			limit := min(g.window, maxBlock)
			switch (h >> 1) & 3 {
			case 0: // raw
				g.skip = size
			case 1: // RLE: one byte, size is the regenerated size
				g.skip = 1
			case 2: // compressed
				g.skip = size
			default:
				return 0, g.bad("zstd block of reserved type")
			}
			if size > limit {
				return 0, g.bad("zstd block of %d bytes exceeds the %d-byte block limit", size, limit)
			}
			g.state = stBody
			if g.skip == 0 {
				g.endBlock()
			}
		case stBody, stChecksum:
			n := min(uint64(len(b)), g.skip)
			b = b[n:]
			g.skip -= n
			if g.skip > 0 {
				continue
			}
			if g.state == stBody {
				g.endBlock()
			} else {
				g.endFrame()
			}
		}
	}
	return total, nil
}

// fcsSize is the size of the frame content size field.
func fcsSize(d byte) int {
	switch d >> 6 {
	case 0:
		if d&0x20 != 0 {
			return 1
		}
		return 0
	case 1:
		return 2
	case 2:
		return 4
	default:
		return 8
	}
}

// header decodes the window size from a complete frame header.
func (g *guard) header() error {
	d := g.hdr[13]
	h := g.hdr[:g.want]
	if d&0x20 == 0 { // window descriptor
		wd := h[0]
		exp, mant := uint64(wd>>3), uint64(wd&7)
		base := uint64(1) << (10 + exp)
		g.window = base + base/8*mant
	} else { // single segment: the window is the content size
		switch len(h) {
		case 1:
			g.window = uint64(h[0])
		case 2:
			g.window = uint64(binary.LittleEndian.Uint16(h)) + 256
		case 4:
			g.window = uint64(binary.LittleEndian.Uint32(h))
		default:
			g.window = binary.LittleEndian.Uint64(h)
		}
	}
	if g.window > g.maxWindow {
		return g.bad("zstd frame needs a %s-byte window; at most %s is allowed", strconv.FormatUint(g.window, 10), strconv.FormatUint(g.maxWindow, 10))
	}
	g.expect(stBlock, 3)
	return nil
}

func (g *guard) endBlock() {
	switch {
	case !g.last:
		g.expect(stBlock, 3)
	case g.sum:
		g.state, g.skip = stChecksum, 4
	default:
		g.endFrame()
	}
}

func (g *guard) endFrame() {
	g.frames++
	g.boundary = true
	g.expect(stMagic, 4)
}
