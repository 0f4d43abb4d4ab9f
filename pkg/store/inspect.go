package store

import "context"

// Inspector is implemented by backends that can report on their storage,
// for arxi-append doctor: what they are, the schema version, whether a
// writer holds the store, and sizes where they know them.
type Inspector interface {
	Inspect(ctx context.Context) (*Inspection, error)
}

// Inspection is a backend's report on its storage.
type Inspection struct {
	Backend       string // "sqlite" or "postgres"
	SchemaVersion int
	// Writer is "held" while a writer holds the store's lock, "free", or
	// "unknown" where the backend cannot tell.
	Writer string
	// WriterInfo says who holds the lock, where the backend knows.
	WriterInfo string
	Facts      []Fact
}

// Fact is one measurement of an Inspection.
type Fact struct {
	Name  string // a snake_case key
	Value any    // for machines: an int64 (bytes, for names ending in _bytes) or a string
	Text  string // for people
}

// Inspect asks the backend for its Inspection; ok is false when it has
// none to give.
func (s *Store) Inspect(ctx context.Context) (in *Inspection, ok bool, err error) {
	i, ok := s.b.(Inspector)
	if !ok {
		return nil, false, nil
	}
	in, err = i.Inspect(ctx)
	return in, err == nil, err
}
