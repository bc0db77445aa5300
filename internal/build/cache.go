package build

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	dockerspec "github.com/moby/docker-image-spec/specs-go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/gantry-dev/gantry/internal/store"
)

// The cache lives in the metadata store's key/value area, bucket
// cacheBucket: "k/<key>" → cacheEntry (a step's result), "s/<step id>" →
// stepRecord (what the step last saw, to say why it missed). cacheVersion
// is in every key: a change of the key's recipe makes every old entry a
// miss, never a wrong hit.
const (
	cacheBucket  = "build-cache"
	cacheVersion = "gantry-build-cache/v1"
)

// stepInputs is everything a step's result depends on besides its parent.
type stepInputs struct {
	Text  string            // the instruction as written
	Args  []string          // the ARGs in scope with their values, KEY=value
	Base  string            // FROM: the image ID or stage key
	Sum   string            // COPY/ADD: checksum of the files
	Files map[string]string // COPY/ADD: path → checksum, to explain misses
}

// cacheKey is the key of a step: its parent's key and its inputs.
func cacheKey(parent digest.Digest, in stepInputs) digest.Digest {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s", cacheVersion, parent, in.Text, strings.Join(in.Args, "\x01"), in.Base, in.Sum)
	return digest.NewDigest(digest.SHA256, h)
}

// stepID names a step independent of its inputs' values: the same
// instruction on the same parent.
func stepID(parent digest.Digest, text string) string {
	sum := sha256.Sum256([]byte(cacheVersion + "\x00" + parent.String() + "\x00" + text))
	return hex.EncodeToString(sum[:])
}

// cacheEntry is a step's result: the image config after it (its layers in
// rootfs.diff_ids).
type cacheEntry struct {
	Image   dockerspec.DockerOCIImage `json:"image"`
	Created time.Time                 `json:"created"`
}

type stepRecord struct {
	Key   digest.Digest     `json:"key"`
	Args  []string          `json:"args,omitempty"`
	Base  string            `json:"base,omitempty"`
	Files map[string]string `json:"files,omitempty"`
}

// pendingEntry is a result to record at the end of the build, all in one
// transaction.
type pendingEntry struct {
	key    digest.Digest
	step   string
	entry  cacheEntry
	record stepRecord
}

// lookup returns the cached result of key when it and its layers are
// still there.
func (r *buildRun) lookup(ctx context.Context, key digest.Digest) (*cacheEntry, bool) {
	var raw []byte
	err := r.b.images.Metadata(ctx, false, func(tx *store.Tx) error {
		var err error
		raw, err = tx.Get(cacheBucket, "k/"+key.String())
		return err
	})
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if json.Unmarshal(raw, &e) != nil {
		return nil, false
	}
	chains := chainIDs(e.Image.RootFS.DiffIDs)
	if len(chains) > 0 && !r.b.images.LayerRecorded(ctx, chains[len(chains)-1]) {
		return nil, false
	}
	return &e, true
}

// whyMissed says in a few words what changed since this step last ran.
func (r *buildRun) whyMissed(ctx context.Context, parent digest.Digest, parentHit bool, in stepInputs) string {
	if r.o.NoCache {
		return "--no-cache"
	}
	var raw []byte
	_ = r.b.images.Metadata(ctx, false, func(tx *store.Tx) error {
		var err error
		raw, err = tx.Get(cacheBucket, "s/"+stepID(parent, in.Text))
		return err
	})
	var rec stepRecord
	if raw == nil || json.Unmarshal(raw, &rec) != nil {
		if !parentHit {
			return "a step before it changed"
		}
		return "not built before"
	}
	if rec.Base != in.Base {
		return "base image changed (" + shortString(rec.Base) + " → " + shortString(in.Base) + ")"
	}
	if diff := diffArgs(rec.Args, in.Args); diff != "" {
		return diff
	}
	if diff := diffFiles(rec.Files, in.Files); diff != "" {
		return diff
	}
	if rec.Key == cacheKey(parent, in) {
		return "its result was pruned"
	}
	return "inputs changed"
}

func shortString(s string) string {
	s = strings.TrimPrefix(s, "sha256:")
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func diffArgs(old, cur []string) string {
	om, cm := kvMap(old), kvMap(cur)
	var changes []string
	for k, v := range cm {
		if ov, ok := om[k]; !ok {
			changes = append(changes, fmt.Sprintf("build arg %s set to %q", k, v))
		} else if ov != v {
			changes = append(changes, fmt.Sprintf("build arg %s changed (%q → %q)", k, ov, v))
		}
	}
	for k := range om {
		if _, ok := cm[k]; !ok {
			changes = append(changes, fmt.Sprintf("build arg %s unset", k))
		}
	}
	sort.Strings(changes)
	return strings.Join(changes, ", ")
}

func kvMap(list []string) map[string]string {
	m := map[string]string{}
	for _, kv := range list {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func diffFiles(old, cur map[string]string) string {
	var changed, added, removed []string
	for p, d := range cur {
		if od, ok := old[p]; !ok {
			added = append(added, p)
		} else if od != d {
			changed = append(changed, p)
		}
	}
	for p := range old {
		if _, ok := cur[p]; !ok {
			removed = append(removed, p)
		}
	}
	var parts []string
	for _, g := range []struct {
		what string
		list []string
	}{{"changed", changed}, {"added", added}, {"removed", removed}} {
		if len(g.list) == 0 {
			continue
		}
		sort.Strings(g.list)
		more := ""
		if len(g.list) > 3 {
			more = fmt.Sprintf(" and %d more", len(g.list)-3)
			g.list = g.list[:3]
		}
		parts = append(parts, fmt.Sprintf("%s %s%s", strings.Join(g.list, ", "), g.what, more))
	}
	return strings.Join(parts, "; ")
}

// flush records the results of the steps that ran, in one transaction.
func (r *buildRun) flush(ctx context.Context) error {
	pending := r.takePending()
	if len(pending) == 0 {
		return nil
	}
	return r.b.images.Metadata(ctx, true, func(tx *store.Tx) error { return writePending(tx, pending) })
}

func (r *buildRun) takePending() []pendingEntry {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pending
	r.pending = nil
	return p
}

func writePending(tx *store.Tx, pending []pendingEntry) error {
	for _, p := range pending {
		raw, err := json.Marshal(p.entry)
		if err != nil {
			return err
		}
		if err := tx.Put(cacheBucket, "k/"+p.key.String(), raw); err != nil {
			return err
		}
		rec, err := json.Marshal(p.record)
		if err != nil {
			return err
		}
		if err := tx.Put(cacheBucket, "s/"+p.step, rec); err != nil {
			return err
		}
	}
	return nil
}

func chainIDs(diffIDs []digest.Digest) []digest.Digest {
	out := make([]digest.Digest, len(diffIDs))
	var parent digest.Digest
	for i, d := range diffIDs {
		parent = store.ChainID(parent, d)
		out[i] = parent
	}
	return out
}

// PruneReport is what a cache prune removed.
type PruneReport struct {
	Entries        int
	SpaceReclaimed int64
}

// Prune forgets every cached step and deletes the layers only the cache
// held (images keep theirs).
func (b *Builder) Prune(ctx context.Context) (PruneReport, error) {
	var rep PruneReport
	layers := map[digest.Digest]bool{}
	err := b.images.Metadata(ctx, true, func(tx *store.Tx) error {
		var keys []string
		err := tx.ForEach(cacheBucket, func(k string, v []byte) error {
			keys = append(keys, k)
			if strings.HasPrefix(k, "k/") {
				rep.Entries++
				var e cacheEntry
				if json.Unmarshal(v, &e) == nil {
					for _, c := range chainIDs(e.Image.RootFS.DiffIDs) {
						layers[c] = true
					}
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := tx.Delete(cacheBucket, k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	list := make([]digest.Digest, 0, len(layers))
	for l := range layers {
		list = append(list, l)
	}
	// Children before parents: longer chains first is not known from the
	// IDs, so RemoveUnusedLayers keeps any layer another one stands on.
	rep.SpaceReclaimed, err = b.images.RemoveUnusedLayers(ctx, list)
	// RUN --mount=type=cache directories go too, as Docker prunes them.
	if ents, rerr := os.ReadDir(b.cacheDir()); rerr == nil {
		for _, e := range ents {
			_ = os.RemoveAll(filepath.Join(b.cacheDir(), e.Name()))
		}
	}
	return rep, err
}
