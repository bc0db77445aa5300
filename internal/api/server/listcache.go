package server

import "sync"

// ListCache keeps the last encoded answer of a listing with the store
// generation it was made at, so that `images` run again on an unchanged
// store is answered without listing or encoding anything. A nil ListCache
// caches nothing.
type ListCache struct {
	mu   sync.Mutex
	gen  uint64
	key  string
	body []byte
}

func (c *ListCache) get(gen uint64, key string) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.body == nil || c.gen != gen || c.key != key {
		return nil, false
	}
	return c.body, true
}

func (c *ListCache) put(gen uint64, key string, body []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.key, c.body = gen, key, body
}
