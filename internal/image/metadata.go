package image

import (
	"context"
	"sync"
	"time"

	"github.com/gantry-dev/gantry/internal/store"
)

// metadata gives the service its bbolt store. bbolt allows one process at a
// time, so the store is open only while this process uses it: from the
// first transaction until the last one ends, plus linger. The daemon lingers
// a little (a burst of requests opens the file once; an idle daemon lets
// `gantry system check` in); the CLI, until the daemon exists, does not, so
// that several gantry commands (two pulls, a pull and `images`) share a
// data root.
type metadata struct {
	path   string
	linger time.Duration

	mu     sync.Mutex
	db     *store.DB
	users  int              // transactions and Hold calls using db now
	idle   *time.Timer      // closes db after linger without users
	images store.ImageCache // outlives each open: listings decode only what changed
}

// lockWait bounds how long a transaction waits for another process's.
const lockWait = 60 * time.Second

// open returns the store, opened if need be, and the function that ends
// this use of it.
func (m *metadata) open() (*store.DB, func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.db == nil {
		db, err := store.OpenWith(m.path, store.Options{LockTimeout: lockWait, ImageCache: &m.images})
		if err != nil {
			return nil, nil, err
		}
		m.db = db
	}
	if m.idle != nil {
		m.idle.Stop()
	}
	m.users++
	var once sync.Once
	return m.db, func() { once.Do(m.release) }, nil
}

func (m *metadata) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.users--
	if m.users > 0 || m.db == nil {
		return
	}
	if m.linger <= 0 {
		m.closeLocked()
		return
	}
	if m.idle == nil {
		m.idle = time.AfterFunc(m.linger, m.closeIdle)
	} else {
		m.idle.Reset(m.linger)
	}
}

// closeIdle closes the store unless a use began since the timer fired.
func (m *metadata) closeIdle() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.users == 0 {
		m.closeLocked()
	}
}

func (m *metadata) closeLocked() error {
	if m.db == nil {
		return nil
	}
	err := m.db.Close()
	m.db = nil
	return err
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
	if m.idle != nil {
		m.idle.Stop()
	}
	return m.closeLocked()
}
