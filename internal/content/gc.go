package content

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
)

// GC deletes every blob for which keep returns false, and every partial
// ingest no writer holds whose data has not been written to for staleIngest
// or longer (a negative staleIngest keeps all ingests). It returns what it
// removed; removed ingests carry their key in Info.Ingest.
//
// keep must know every blob that should live, including those a pull or
// build has committed but not yet recorded: the caller serializes GC with
// them.
func (s *Store) GC(ctx context.Context, keep func(digest.Digest) bool, staleIngest time.Duration) ([]Info, error) {
	var doomed []Info
	if err := s.Walk(ctx, func(i Info) error {
		if !keep(i.Digest) {
			doomed = append(doomed, i)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var removed []Info
	dirty := map[string]bool{}
	for _, i := range doomed {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		p, _ := s.blobPath(i.Digest)
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return removed, fmt.Errorf("content gc: %w", err)
		}
		removed = append(removed, i)
		dirty[filepath.Dir(p)] = true
	}
	// One directory sync per algorithm instead of one per blob.
	for dir := range dirty {
		if err := syncDir(dir); err != nil {
			return removed, fmt.Errorf("content gc: %w", err)
		}
	}
	if staleIngest < 0 {
		return removed, nil
	}
	gone, err := s.removeStaleIngests(ctx, time.Now().Add(-staleIngest))
	return append(removed, gone...), err
}

func (s *Store) removeStaleIngests(ctx context.Context, before time.Time) ([]Info, error) {
	entries, err := os.ReadDir(s.ingestRoot())
	if err != nil {
		return nil, fmt.Errorf("content gc: %w", err)
	}
	var removed []Info
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		if !e.IsDir() || !isIngestName(e.Name()) {
			continue
		}
		dir := filepath.Join(s.ingestRoot(), e.Name())
		lock, err := lockIngest(dir)
		if errors.Is(err, errBusy) {
			continue // a writer is on it
		}
		if err != nil {
			return removed, fmt.Errorf("content gc: %w", err)
		}
		info, stale := ingestAge(dir, before)
		if stale {
			err = os.RemoveAll(dir)
			if err == nil {
				removed = append(removed, info)
			}
		}
		lock.Close()
		if err != nil {
			return removed, fmt.Errorf("content gc: %w", err)
		}
	}
	return removed, nil
}

// ingestAge describes an ingest and tells whether it was last written before
// the given time. An ingest without data counts by its directory's time.
func ingestAge(dir string, before time.Time) (Info, bool) {
	var info Info
	if m, err := readMeta(dir); err == nil {
		info.Ingest, info.Digest = m.Key, m.Expected
	}
	fi, err := os.Stat(filepath.Join(dir, "data"))
	if err != nil {
		fi, err = os.Stat(dir)
		if err != nil {
			return info, false
		}
	} else {
		info.Size = fi.Size()
	}
	return info, fi.ModTime().Before(before)
}

// Check verifies every blob against its digest and looks for files that are
// not part of the layout (stray files, temp files, torn ingests). It returns
// one line per problem; with repair, corrupt blobs and strays are removed
// and each line says so. Live ingests are not touched.
func (s *Store) Check(ctx context.Context, repair bool) ([]string, error) {
	var problems []string
	// report records one problem, whose fix is removing path.
	report := func(path, line string) {
		if repair {
			if err := os.RemoveAll(path); err != nil {
				problems = append(problems, fmt.Sprintf("%s (remove failed: %s)", line, oneLine(err)))
				return
			}
			line += " (removed)"
		}
		problems = append(problems, line)
	}
	stray := func(path string) { report(path, "stray file "+path) }

	blobsRoot := filepath.Join(s.root, "blobs")
	algs, err := os.ReadDir(blobsRoot)
	if err != nil {
		return nil, fmt.Errorf("content check: %w", err)
	}
	var blobs []string
	for _, a := range algs {
		alg := digest.Algorithm(a.Name())
		if !a.IsDir() || newHash(alg) == nil {
			stray(filepath.Join(blobsRoot, a.Name()))
			continue
		}
		entries, err := os.ReadDir(s.algDir(alg))
		if err != nil {
			return nil, fmt.Errorf("content check: %w", err)
		}
		for _, e := range entries {
			p := filepath.Join(s.algDir(alg), e.Name())
			if _, ok := blobName(alg, e); !ok {
				stray(p)
				continue
			}
			blobs = append(blobs, p)
		}
	}

	bad, err := s.verifyBlobs(ctx, blobs)
	if err != nil {
		return nil, err
	}
	for _, b := range bad {
		report(b.path, b.what)
	}

	entries, err := os.ReadDir(s.ingestRoot())
	if err != nil {
		return nil, fmt.Errorf("content check: %w", err)
	}
	for _, e := range entries {
		dir := filepath.Join(s.ingestRoot(), e.Name())
		if !e.IsDir() || !isIngestName(e.Name()) {
			stray(dir)
			continue
		}
		lock, err := lockIngest(dir)
		if errors.Is(err, errBusy) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("content check: %w", err)
		}
		if _, err := readMeta(dir); err != nil {
			report(dir, "ingest "+dir+" cannot be resumed: "+oneLine(err))
		} else if _, err := os.Stat(filepath.Join(dir, "data")); err != nil {
			report(dir, "ingest "+dir+" has no data")
		} else {
			sub, _ := os.ReadDir(dir)
			for _, f := range sub {
				switch f.Name() {
				case "lock", "meta", "data":
				default:
					stray(filepath.Join(dir, f.Name()))
				}
			}
		}
		lock.Close()
	}
	return problems, nil
}

type badBlob struct{ path, what string }

// verifyBlobs hashes the blobs on all CPUs and returns the bad ones in path
// order.
func (s *Store) verifyBlobs(ctx context.Context, paths []string) ([]badBlob, error) {
	var (
		mu   sync.Mutex
		bad  []badBlob
		next = make(chan string)
		wg   sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, bufSize)
			for p := range next {
				if what := verifyBlob(ctx, p, buf); what != "" {
					mu.Lock()
					bad = append(bad, badBlob{p, what})
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range paths {
		if ctx.Err() != nil {
			break
		}
		next <- p
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sort.Slice(bad, func(i, j int) bool { return bad[i].path < bad[j].path })
	return bad, nil
}

// verifyBlob returns what is wrong with the blob at p, or "".
func verifyBlob(ctx context.Context, p string, buf []byte) string {
	alg := digest.Algorithm(filepath.Base(filepath.Dir(p)))
	want := digest.NewDigestFromEncoded(alg, filepath.Base(p))
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return "" // deleted meanwhile
	}
	if err != nil {
		return fmt.Sprintf("blob %s is unreadable: %s", want, oneLine(err))
	}
	defer f.Close()
	h := newHash(alg)
	if _, err := io.CopyBuffer(h, &ctxReader{ctx: ctx, r: f}, buf); err != nil {
		if ctx.Err() != nil {
			return ""
		}
		return fmt.Sprintf("blob %s is unreadable: %s", want, oneLine(err))
	}
	if got := digest.NewDigest(alg, h); got != want {
		return fmt.Sprintf("blob %s is corrupt: content hashes to %s", want, got)
	}
	return ""
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", "; ") }
