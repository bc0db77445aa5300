// Package store keeps gantry's metadata (images, names, layers, and a small
// key/value area for other services) in one bbolt file. bbolt gives atomic,
// durable transactions, so a crash leaves either the old or the new state.
//
// Layout: a "meta" bucket holds the schema version; the data lives in a
// bucket named after that version ("v1"), so a migration can build the next
// version's buckets beside the old ones and drop those in the same
// transaction.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

// SchemaVersion is the metadata layout this code reads and writes.
const SchemaVersion = 1

// DefaultLockTimeout is how long Open waits for another process to let go
// of the file before it gives up.
const DefaultLockTimeout = time.Second

// Bucket and key names. Strings, converted where used, so the package holds
// no mutable state.
const (
	metaBucket = "meta"
	schemaKey  = "schema"

	// Schema v1, inside the "v1" bucket.
	v1Bucket     = "v1"
	imagesBucket = "images" // config digest → Image
	namesBucket  = "names"  // normalized reference → config digest
	layersBucket = "layers" // chain ID → Layer
	kvBucket     = "kv"     // bucket name → key → value
)

// DB is the metadata database. It is safe for concurrent use; bbolt allows
// many readers and one writer at a time. Only one process can hold it.
type DB struct {
	bolt   *bolt.DB
	path   string
	images *ImageCache
}

// Options tune Open.
type Options struct {
	// LockTimeout bounds the wait for another process holding the file;
	// zero means DefaultLockTimeout.
	LockTimeout time.Duration
	// ImageCache, when set, is the cache of decoded images to use (and
	// keep after Close); otherwise the DB makes its own.
	ImageCache *ImageCache
}

// schema is a target version and the steps to reach it: migrate[i] moves a
// database from version i to i+1 (version 0 is an empty file).
type schema struct {
	version int
	migrate []func(*bolt.Tx) error
}

func currentSchema() schema {
	return schema{version: SchemaVersion, migrate: []func(*bolt.Tx) error{createV1}}
}

func createV1(tx *bolt.Tx) error {
	root, err := tx.CreateBucketIfNotExists([]byte(v1Bucket))
	if err != nil {
		return err
	}
	for _, b := range []string{imagesBucket, namesBucket, layersBucket, kvBucket} {
		if _, err := root.CreateBucketIfNotExists([]byte(b)); err != nil {
			return err
		}
	}
	return nil
}

// Open opens (creating if needed) the database file at path and brings its
// schema up to date. Another process holding the file makes it fail with
// errdefs.ErrUnavailable after DefaultLockTimeout; a schema newer than this
// code knows is refused rather than misread.
func Open(path string) (*DB, error) { return OpenWith(path, Options{}) }

// OpenWith is Open with options.
func OpenWith(path string, o Options) (*DB, error) {
	return open(path, o, currentSchema())
}

func open(path string, o Options, sch schema) (*DB, error) {
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("metadata %s: %w", path, err)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{
		Timeout: o.LockTimeout,
		// The hashmap freelist keeps commits fast as the file ages.
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, errdefs.Unavailable("another gantry holds %s", path)
	}
	if err != nil {
		return nil, fmt.Errorf("metadata %s: %w", path, err)
	}
	db := &DB{bolt: b, path: path, images: o.ImageCache}
	if db.images == nil {
		db.images = &ImageCache{}
	}
	if err := db.upgrade(sch); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// upgrade runs the migrations from the file's version to sch.version in one
// transaction, so a crash leaves the old version intact.
func (db *DB) upgrade(sch schema) error {
	var v int
	if err := db.bolt.View(func(tx *bolt.Tx) error {
		var err error
		v, err = readVersion(tx)
		return err
	}); err != nil {
		return fmt.Errorf("metadata %s: %w", db.path, err)
	}
	if v > sch.version {
		return errdefs.Unavailable("metadata schema v%d is newer than this gantry (v%d): upgrade gantry", v, sch.version)
	}
	if v == sch.version {
		return nil
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		// Read again: the version cannot have changed (we hold the file
		// lock), but this keeps the decision inside the transaction.
		v, err := readVersion(tx)
		if err != nil {
			return err
		}
		for ; v < sch.version; v++ {
			if err := sch.migrate[v](tx); err != nil {
				return fmt.Errorf("migrate schema v%d to v%d: %w", v, v+1, err)
			}
		}
		meta, err := tx.CreateBucketIfNotExists([]byte(metaBucket))
		if err != nil {
			return err
		}
		raw, _ := json.Marshal(sch.version)
		return meta.Put([]byte(schemaKey), raw)
	})
	if err != nil {
		return fmt.Errorf("metadata %s: %w", db.path, err)
	}
	return nil
}

func readVersion(tx *bolt.Tx) (int, error) {
	meta := tx.Bucket([]byte(metaBucket))
	if meta == nil {
		return 0, nil
	}
	raw := meta.Get([]byte(schemaKey))
	if raw == nil {
		return 0, nil
	}
	var v int
	if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
		return 0, fmt.Errorf("unreadable schema version %q", raw)
	}
	return v, nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close releases the file. Transactions still running finish first.
func (db *DB) Close() error { return db.bolt.Close() }

// View runs fn in a read-only transaction; it sees one consistent state.
func (db *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(func(btx *bolt.Tx) error {
		tx, err := newTx(btx, db.images)
		if err != nil {
			return err
		}
		return fn(tx)
	})
}

// Update runs fn in a read-write transaction and commits it (durably) if fn
// returns nil; any error from fn leaves the database as it was. Writers run
// one at a time.
func (db *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.Update(func(btx *bolt.Tx) error {
		tx, err := newTx(btx, db.images)
		if err != nil {
			return err
		}
		return fn(tx)
	})
}
