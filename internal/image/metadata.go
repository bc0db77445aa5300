package image

import (
	"context"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/store"
)

// metadata gives the service its bbolt store. A daemon holds it open; the
// CLI, until the daemon exists, opens it around each transaction so that
// several gantry commands (two pulls, a pull and `images`) can share a data
// root: bbolt allows one process at a time.
type metadata struct {
	path string
	hold bool

	mu      sync.Mutex
	db      *store.DB
	images  store.ImageCache // outlives each open: listings decode only what changed
	holders int              // Hold calls not yet released (metadata_hold.go)
}

// lockWait bounds how long a transaction waits for another process's.
const lockWait = 60 * time.Second

func (m *metadata) open() (*store.DB, func(), error) {
	m.mu.Lock()
	if m.db != nil {
		m.mu.Unlock()
		return m.db, func() {}, nil
	}
	db, err := store.OpenWith(m.path, store.Options{LockTimeout: lockWait, ImageCache: &m.images})
	if err != nil {
		m.mu.Unlock()
		return nil, nil, err
	}
	if m.hold {
		m.db = db
		m.mu.Unlock()
		return db, func() {}, nil
	}
	// Held until the transaction ends; the mutex keeps this process's own
	// transactions from waiting on each other's file lock.
	return db, func() { db.Close(); m.mu.Unlock() }, nil
}

func (m *metadata) View(ctx context.Context, fn func(*store.Tx) error) error {
	db, done, err := m.open()
	if err != nil {
		return err
	}
	defer done()
	return db.View(ctx, fn)
}

func (m *metadata) Update(ctx context.Context, fn func(*store.Tx) error) error {
	db, done, err := m.open()
	if err != nil {
		return err
	}
	defer done()
	return db.Update(ctx, fn)
}

func (m *metadata) Check(ctx context.Context, repair bool) ([]string, error) {
	db, done, err := m.open()
	if err != nil {
		return nil, err
	}
	defer done()
	return db.Check(ctx, repair)
}

func (m *metadata) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db != nil {
		err := m.db.Close()
		m.db = nil
		return err
	}
	return nil
}
