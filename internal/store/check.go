package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"
)

// Check looks for inconsistencies: records that do not decode or sit under
// the wrong key, names pointing to missing images, images referencing
// missing layers, layers whose parent is missing, and damage to the bbolt
// file itself. It returns one line per problem. With repair it removes bad
// records, dangling names and images with missing layers (with their names),
// all in one transaction, and each line says "(removed)". Layers with a
// missing parent are only reported: their snapshots are the snapshot
// service's to judge.
func (db *DB) Check(ctx context.Context, repair bool) ([]string, error) {
	var problems []string
	run := db.View
	if repair {
		run = db.Update
	}
	err := run(ctx, func(tx *Tx) error {
		var err error
		problems, err = tx.check(repair)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("metadata check: %w", err)
	}
	return problems, nil
}

func (tx *Tx) check(repair bool) ([]string, error) {
	var problems []string
	var doomed []func() error
	report := func(line string, fix func() error) {
		if repair && fix != nil {
			line += " (removed)"
			doomed = append(doomed, fix)
		}
		problems = append(problems, line)
	}
	del := func(b *bolt.Bucket, key []byte) func() error {
		key = append([]byte(nil), key...) // bbolt's key memory is only valid in the loop
		return func() error { return b.Delete(key) }
	}

	layers := map[digest.Digest]bool{}
	parents := map[digest.Digest]digest.Digest{}
	if err := tx.layers.ForEach(func(k, v []byte) error {
		var l Layer
		if err := json.Unmarshal(v, &l); err != nil {
			report(fmt.Sprintf("layer %s: undecodable record: %v", k, err), del(tx.layers, k))
			return nil
		}
		if string(l.ChainID) != string(k) {
			report(fmt.Sprintf("layer %s: record says chain ID %s", k, l.ChainID), del(tx.layers, k))
			return nil
		}
		layers[l.ChainID] = true
		if l.Parent != "" {
			parents[l.ChainID] = l.Parent
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var orphans []digest.Digest
	for c, p := range parents {
		if !layers[p] {
			orphans = append(orphans, c)
		}
	}
	sort.Slice(orphans, func(i, j int) bool { return orphans[i] < orphans[j] })
	for _, c := range orphans {
		report(fmt.Sprintf("layer %s: parent layer %s is missing", c, parents[c]), nil)
	}

	// present: every key in images; broken: those repair removes.
	present := map[string]bool{}
	broken := map[string]bool{}
	if err := tx.images.ForEach(func(k, v []byte) error {
		present[string(k)] = true
		var img Image
		if err := json.Unmarshal(v, &img); err != nil {
			broken[string(k)] = true
			report(fmt.Sprintf("image %s: undecodable record: %v", k, err), del(tx.images, k))
			return nil
		}
		if string(img.ID) != string(k) {
			broken[string(k)] = true
			report(fmt.Sprintf("image %s: record says ID %s", k, img.ID), del(tx.images, k))
			return nil
		}
		for _, l := range img.Layers {
			if !layers[l] {
				broken[string(k)] = true
				report(fmt.Sprintf("image %s references missing layer %s", k, l), del(tx.images, k))
				return nil
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}

	if err := tx.names.ForEach(func(k, v []byte) error {
		switch {
		case !present[string(v)]:
			report(fmt.Sprintf("name %s points to missing image %s", k, v), del(tx.names, k))
		case repair && broken[string(v)]:
			// Its image goes above; the name would dangle.
			report(fmt.Sprintf("name %s points to broken image %s", k, v), del(tx.names, k))
		}
		return nil
	}); err != nil {
		return nil, err
	}

	// bbolt's own structural check (pages, freelist).
	for err := range tx.tx.Check() {
		problems = append(problems, "bbolt: "+err.Error())
	}

	// Deleting while iterating a bucket skips keys in bbolt; delete after.
	for _, fix := range doomed {
		if err := fix(); err != nil {
			return nil, err
		}
	}
	return problems, nil
}
