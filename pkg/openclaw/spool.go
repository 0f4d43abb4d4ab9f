package openclaw

import (
	"bufio"
	"encoding/binary"
	"io"

	"arxi.dev/arxi/pkg/errcode"
	"arxi.dev/arxi/pkg/scalar"
)

// The spool holds, for each record the first pass accepted, what the
// second pass needs to map it without decoding its JSON again: its line,
// its frame seq, the decoded fields of an agent event, and the record's
// canonical text. Numbers are uvarints; strings are a uvarint length and
// the bytes.

// Flags of a spooled agent event.
const (
	flagSeq = 1 << iota
	flagPhase
	flagNotice
)

type spoolWriter struct {
	w   *bufio.Writer
	buf []byte
}

func (s *spoolWriter) uvarint(u uint64) { s.buf = binary.AppendUvarint(s.buf, u) }

func (s *spoolWriter) str(v string) {
	s.uvarint(uint64(len(v)))
	s.buf = append(s.buf, v...)
}

// record writes one record; ev is nil for a transcript line.
func (s *spoolWriter) record(line, fseq int64, ev *event, canon []byte) error {
	s.buf = s.buf[:0]
	s.uvarint(uint64(line))
	s.uvarint(uint64(fseq + 1))
	if ev != nil {
		var flags byte
		if ev.hasSeq {
			flags |= flagSeq
		}
		if ev.hasPhase {
			flags |= flagPhase
		}
		if ev.notice {
			flags |= flagNotice
		}
		s.buf = append(s.buf, flags)
		s.uvarint(ev.seq)
		s.uvarint(uint64(ev.ts.UnixMilli()))
		s.str(ev.runID.String())
		s.str(ev.stream)
		s.str(ev.phase)
		s.str(ev.sessionKey.String())
		s.str(ev.actor.String())
		s.str(ev.toolCallID)
		s.str(ev.toolName)
	}
	s.uvarint(uint64(len(canon)))
	if _, err := s.w.Write(s.buf); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write spool file")
	}
	if _, err := s.w.Write(canon); err != nil {
		return errcode.Wrap(errcode.IOFailed, err, "write spool file")
	}
	return nil
}

type spoolReader struct {
	r      *bufio.Reader
	buf    []byte
	err    error
	intern map[string]string // the strings events repeat: streams, phases, runs, sessions
	labels map[string]scalar.Label
}

// maxInterned bounds the strings a spoolReader keeps.
const maxInterned = 1 << 12

func (s *spoolReader) uvarint() uint64 {
	if s.err != nil {
		return 0
	}
	u, err := binary.ReadUvarint(s.r)
	s.err = err
	return u
}

// bytes reads n bytes into the reader's buffer, valid until the next call.
func (s *spoolReader) bytes(n uint64) []byte {
	if s.err != nil {
		return nil
	}
	if n > MaxLine {
		s.err = io.ErrUnexpectedEOF
		return nil
	}
	if uint64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	b := s.buf[:n]
	_, s.err = io.ReadFull(s.r, b)
	return b
}

func (s *spoolReader) str() string { return string(s.bytes(s.uvarint())) }

// common reads a string that many records repeat, and keeps it.
func (s *spoolReader) common() string {
	b := s.bytes(s.uvarint())
	if v, ok := s.intern[string(b)]; ok {
		return v
	}
	v := string(b)
	if s.intern == nil {
		s.intern = map[string]string{}
	}
	if len(s.intern) < maxInterned {
		s.intern[v] = v
	}
	return v
}

func (s *spoolReader) label() scalar.Label {
	b := s.bytes(s.uvarint())
	if len(b) == 0 || s.err != nil {
		return scalar.Label{}
	}
	if l, ok := s.labels[string(b)]; ok {
		return l
	}
	l := scalar.MustLabel(string(b)) // checked by the first pass
	if s.labels == nil {
		s.labels = map[string]scalar.Label{}
	}
	if len(s.labels) < maxInterned {
		s.labels[l.String()] = l
	}
	return l
}

// record reads one record into ev (unless ev is nil) and returns its line,
// frame seq and canonical text; io.EOF after the last.
func (s *spoolReader) record(ev *event) (line, fseq int64, canon string, err error) {
	first, err := binary.ReadUvarint(s.r)
	if err != nil {
		return 0, 0, "", err
	}
	line = int64(first)
	fseq = int64(s.uvarint()) - 1
	if ev != nil {
		var flags byte
		if s.err == nil {
			flags, s.err = s.r.ReadByte()
		}
		*ev = event{hasSeq: flags&flagSeq != 0, hasPhase: flags&flagPhase != 0, notice: flags&flagNotice != 0}
		ev.seq = s.uvarint()
		ms := s.uvarint()
		ev.runID = s.label()
		ev.stream = s.common()
		ev.phase = s.common()
		ev.sessionKey = s.label()
		ev.actor = s.label()
		ev.toolCallID = s.str()
		ev.toolName = s.common()
		if s.err == nil {
			ev.ts, s.err = scalar.UnixMilliTimestamp(int64(ms))
		}
	}
	canon = string(s.bytes(s.uvarint()))
	if ev != nil {
		ev.canon = canon
	}
	if s.err != nil {
		return 0, 0, "", errcode.Wrap(errcode.IOFailed, s.err, "read spool file")
	}
	return line, fseq, canon, nil
}
