// Package clicontext keeps named daemon endpoints ("contexts") in the docker
// CLI's own store, so that `docker context use gantry` and `gantry context
// use x` select the same daemon for both tools.
//
// The layout is the docker CLI's: each context is
// <config-dir>/contexts/meta/<sha256 of its name>/meta.json, and the current
// one is config.json's "currentContext" key.
package clicontext

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/gantry-dev/gantry/internal/atomicfile"
	"github.com/gantry-dev/gantry/internal/errdefs"
	"github.com/gantry-dev/gantry/internal/registry"
)

// DefaultName is the context that is not stored: the environment's
// DOCKER_HOST/GANTRY_HOST, else the default socket.
const DefaultName = "default"

// Context is one stored endpoint, in the docker CLI's meta.json shape.
type Context struct {
	Name      string              `json:"Name"`
	Metadata  Metadata            `json:"Metadata"`
	Endpoints map[string]Endpoint `json:"Endpoints"`
}

// Metadata is the context's free-form part; the docker CLI keeps a
// description there.
type Metadata struct {
	Description string `json:"Description,omitempty"`
}

// Endpoint is how to reach one API of the context ("docker" is the one).
type Endpoint struct {
	Host          string `json:"Host,omitempty"`
	SkipTLSVerify bool   `json:"SkipTLSVerify"`
}

// Host is the Engine API address of the context.
func (c Context) Host() string { return c.Endpoints["docker"].Host }

// Store is the contexts of one docker config directory.
type Store struct{ dir string }

// Open returns the store of configDir ("" is $DOCKER_CONFIG, else ~/.docker).
func Open(configDir string) *Store {
	if configDir == "" {
		configDir = registry.ConfigDir()
	}
	return &Store{dir: configDir}
}

// Dir is the docker config directory the store lives in.
func (s *Store) Dir() string { return s.dir }

func (s *Store) metaDir(name string) string {
	sum := sha256.Sum256([]byte(name))
	return filepath.Join(s.dir, "contexts", "meta", hex.EncodeToString(sum[:]))
}

// Get reads a stored context.
func (s *Store) Get(name string) (Context, error) {
	var c Context
	data, err := os.ReadFile(filepath.Join(s.metaDir(name), "meta.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return c, errdefs.NotFound("context %q does not exist", name)
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, errdefs.Invalid("context %q: %v", name, err)
	}
	return c, nil
}

// List returns the stored contexts, by name.
func (s *Store) List() ([]Context, error) {
	dirs, err := os.ReadDir(filepath.Join(s.dir, "contexts", "meta"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []Context
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(s.dir, "contexts", "meta", d.Name(), "meta.json"))
		if err != nil {
			continue // a half-made entry of another tool: not a context
		}
		var c Context
		if json.Unmarshal(data, &c) == nil && c.Name != "" {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Create stores a new context.
func (s *Store) Create(c Context) error {
	if c.Name == DefaultName {
		return errdefs.Invalid("%q is a reserved context name", c.Name)
	}
	if _, err := s.Get(c.Name); err == nil {
		return errdefs.Conflict("context %q already exists", c.Name)
	}
	data, err := json.Marshal(c)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.metaDir(c.Name), 0o755); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(s.metaDir(c.Name), "meta.json"), data, 0o644)
}

// Remove deletes a stored context.
func (s *Store) Remove(name string) error {
	if _, err := s.Get(name); err != nil {
		return err
	}
	return os.RemoveAll(s.metaDir(name))
}

// Current is config.json's currentContext ("" when unset).
func (s *Store) Current() (string, error) {
	top, err := s.readConfig()
	if err != nil {
		return "", err
	}
	var name string
	if raw, ok := top["currentContext"]; ok {
		_ = json.Unmarshal(raw, &name)
	}
	return name, nil
}

// Use makes name the current context; "default" unsets it. Every other key
// of config.json is written back as it was.
func (s *Store) Use(name string) error {
	if name != DefaultName {
		if _, err := s.Get(name); err != nil {
			return err
		}
	}
	top, err := s.readConfig()
	if err != nil {
		return err
	}
	if name == DefaultName {
		delete(top, "currentContext")
	} else {
		raw, _ := json.Marshal(name)
		top["currentContext"] = raw
	}
	data, err := json.MarshalIndent(top, "", "\t")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return err
	}
	path := filepath.Join(s.dir, "config.json")
	// Write through a symlinked config.json (dotfile managers) to its target.
	if target, err := filepath.EvalSymlinks(path); err == nil {
		path = target
	}
	return atomicfile.Write(path, append(data, '\n'), 0o600)
}

func (s *Store) readConfig() (map[string]json.RawMessage, error) {
	top := map[string]json.RawMessage{}
	path := filepath.Join(s.dir, "config.json")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) || len(bytes.TrimSpace(data)) == 0 {
		return top, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, errdefs.Invalid("parsing %s: %v", path, err)
	}
	return top, nil
}
