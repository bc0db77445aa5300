package image

import "github.com/gantry-dev/gantry/internal/store"

// HoldMetadata keeps the metadata store open until release is called, so
// that a burst of transactions (a build's cache lookups, a few per step)
// opens the file once instead of once each. Another process wanting the
// file waits meanwhile: hold it for bursts, not across long waits.
func (s *Service) HoldMetadata() (release func(), err error) {
	m := s.db
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.hold {
		return func() {}, nil
	}
	if m.db == nil {
		db, err := store.OpenWith(m.path, store.Options{LockTimeout: lockWait, ImageCache: &m.images})
		if err != nil {
			return nil, err
		}
		m.db = db
	}
	m.holders++
	released := false
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if released {
			return
		}
		released = true
		m.holders--
		if m.holders == 0 && !m.hold && m.db != nil {
			m.db.Close()
			m.db = nil
		}
	}, nil
}
