package content

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"
)

// errBusy reports an ingest whose lock another writer holds.
var errBusy = errors.New("ingest is in progress")

// ingestMeta is what a resume needs to know besides the data itself.
type ingestMeta struct {
	Key      string        `json:"key"`
	Expected digest.Digest `json:"expected,omitempty"`
	Size     int64         `json:"size"`
}

// IngestStatus describes a partial ingest kept for resume.
type IngestStatus struct {
	Key       string
	Expected  digest.Digest // "" when unknown
	Size      int64         // expected total, -1 when unknown
	Offset    int64         // bytes written so far
	UpdatedAt time.Time     // last write
}

func (s *Store) ingestDir(key string) string {
	sum := sha256.Sum256([]byte(key))
	return filepath.Join(s.ingestRoot(), hex.EncodeToString(sum[:]))
}

// isIngestName tells an ingest directory (a sha256 of its key) from a stray.
func isIngestName(name string) bool {
	return len(name) == 64 && digest.SHA256.Validate(name) == nil && strings.ToLower(name) == name
}

// lockIngest takes the ingest's lock without waiting, creating the directory
// if needed. flock is released by the kernel when its holder dies, so a
// killed writer never blocks a resume.
func lockIngest(dir string) (*os.File, error) {
	// Retries cover a holder that removed the directory (commit, discard,
	// GC) between our open and our flock: we then hold a lock on a file
	// that is no longer there and must start over.
	for range 16 {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if err := flock(f); err != nil {
			f.Close()
			return nil, err
		}
		var held, now unix.Stat_t
		if unix.Fstat(int(f.Fd()), &held) == nil &&
			unix.Stat(f.Name(), &now) == nil &&
			held.Dev == now.Dev && held.Ino == now.Ino {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("lock %s: directory keeps disappearing", dir)
}

func flock(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.EWOULDBLOCK):
			return errBusy
		default:
			return fmt.Errorf("flock %s: %w", f.Name(), err)
		}
	}
}

func readMeta(dir string) (ingestMeta, error) {
	var m ingestMeta
	b, err := os.ReadFile(filepath.Join(dir, "meta"))
	if err != nil {
		return m, err
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("ingest %s: meta: %w", filepath.Base(dir), err)
	}
	if m.Key == "" {
		return m, fmt.Errorf("ingest %s: meta has no key", filepath.Base(dir))
	}
	return m, nil
}

// writeMeta replaces the meta file by rename, so it is never seen half
// written. It is not fsynced: an ingest is a cache whose data is not synced
// before Commit either; a crash that tears it only costs a re-download, and
// Open removes such an ingest.
func writeMeta(dir string, m ingestMeta) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, tmpPrefix+"meta-"+randomSuffix())
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, "meta")); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func randomSuffix() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cleanIngests removes what a crash left in ingest/: temp files, and ingests
// that cannot be resumed. Ingests a live writer holds are left alone.
func (s *Store) cleanIngests() error {
	entries, err := os.ReadDir(s.ingestRoot())
	if err != nil {
		return err
	}
	for _, e := range entries {
		dir := filepath.Join(s.ingestRoot(), e.Name())
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.RemoveAll(dir)
			continue
		}
		if !e.IsDir() || !isIngestName(e.Name()) {
			continue // not ours to remove; Check reports it
		}
		lock, err := lockIngest(dir)
		if errors.Is(err, errBusy) {
			continue
		}
		if err != nil {
			return err
		}
		removeTemps(dir)
		_, metaErr := readMeta(dir)
		_, dataErr := os.Stat(filepath.Join(dir, "data"))
		if metaErr != nil || dataErr != nil {
			err = os.RemoveAll(dir)
		}
		lock.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func removeTemps(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), tmpPrefix) {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// Ingests lists the partial ingests on disk, live or kept for resume.
func (s *Store) Ingests(ctx context.Context) ([]IngestStatus, error) {
	entries, err := os.ReadDir(s.ingestRoot())
	if err != nil {
		return nil, fmt.Errorf("content ingests: %w", err)
	}
	var out []IngestStatus
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !e.IsDir() || !isIngestName(e.Name()) {
			continue
		}
		dir := filepath.Join(s.ingestRoot(), e.Name())
		m, err := readMeta(dir)
		if err != nil {
			continue // being created, or torn by a crash
		}
		st := IngestStatus{Key: m.Key, Expected: m.Expected, Size: m.Size}
		if fi, err := os.Stat(filepath.Join(dir, "data")); err == nil {
			st.Offset = fi.Size()
			st.UpdatedAt = fi.ModTime()
		}
		out = append(out, st)
	}
	return out, nil
}
