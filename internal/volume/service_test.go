package volume

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	eventtypes "github.com/moby/moby/api/types/events"

	"github.com/gantry-dev/gantry/internal/errdefs"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Publish(typ eventtypes.Type, action eventtypes.Action, id string, attrs map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, string(typ)+" "+string(action)+" "+id)
}

func open(t *testing.T, root string) (*Service, *recorder) {
	t.Helper()
	rec := &recorder{}
	s, err := Open(context.Background(), Config{DataRoot: root, Events: rec})
	if err != nil {
		t.Fatal(err)
	}
	return s, rec
}

func TestValidateName(t *testing.T) {
	for name, want := range map[string]string{
		"ok": "", "a.b-c_d": "", "0abc": "", "A1": "",
		"a":      "volume name is too short",
		"":       "includes invalid characters",
		".hid":   "includes invalid characters",
		"_x":     "includes invalid characters",
		"a/b":    `"a/b" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
		"../etc": "includes invalid characters",
		"sp ace": "includes invalid characters",
	} {
		err := validateName(name)
		switch {
		case want == "" && err != nil:
			t.Errorf("%q: %v", name, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, errdefs.ErrInvalid)):
			t.Errorf("%q: %v, want %q", name, err, want)
		}
	}
	if n := randomName(); len(n) != 64 || validateName(n) != nil {
		t.Errorf("random name %q", n)
	}
}

func TestCreateRemoveAndReferences(t *testing.T) {
	root := t.TempDir()
	s, rec := open(t, root)
	ctx := context.Background()
	v, created, err := s.Create(ctx, CreateOptions{Name: "data", Labels: map[string]string{"a": "b"}})
	if err != nil || !created {
		t.Fatalf("create: %v %v", created, err)
	}
	if v.Mountpoint != filepath.Join(root, "volumes", "data", "_data") || v.Driver != "local" || v.Scope != "local" || v.Labels["a"] != "b" {
		t.Errorf("volume: %+v", v)
	}
	if st, err := os.Stat(v.Mountpoint); err != nil || !st.IsDir() {
		t.Fatalf("data dir: %v", err)
	}
	// A second create returns the volume, with the reference taken.
	if _, created, err := s.Create(ctx, CreateOptions{Name: "data", Ref: "c1"}); err != nil || created {
		t.Fatalf("second create: %v %v", created, err)
	}
	err = s.Remove(ctx, "data", true)
	if err == nil || err.Error() != "remove data: volume is in use - [c1]" || !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("remove in use: %v", err)
	}
	if _, err := os.Stat(v.Mountpoint); err != nil {
		t.Fatal("a refused removal touched the data")
	}
	s.Release("data", "c1")
	if err := s.Remove(ctx, "data", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "volumes", "data")); !os.IsNotExist(err) {
		t.Errorf("volume dir after remove: %v", err)
	}
	if err := s.Remove(ctx, "data", false); err == nil || err.Error() != "get data: no such volume" || !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("remove of a missing volume: %v", err)
	}
	if err := s.Remove(ctx, "data", true); err != nil {
		t.Errorf("remove -f of a missing volume: %v", err)
	}
	if _, _, err := s.Create(ctx, CreateOptions{Name: "x/y"}); err == nil || !strings.HasPrefix(err.Error(), `create x/y: "x/y" includes invalid characters`) {
		t.Errorf("bad name: %v", err)
	}
	if _, _, err := s.Create(ctx, CreateOptions{Name: "nfs", Driver: "nfs"}); err == nil || err.Error() != `create nfs: error looking up volume plugin nfs: plugin "nfs" not found` {
		t.Errorf("bad driver: %v", err)
	}
	for opts, want := range map[string]map[string]string{
		`invalid option: "colour"`:          {"colour": "red"},
		`missing required option: "device"`: {"type": "tmpfs"},
		`missing required option: "type"`:   {"device": "/x"},
		"quota size requested":              {"size": "1g"},
	} {
		if _, _, err := s.Create(ctx, CreateOptions{Name: "opts", Options: want}); err == nil || !strings.Contains(err.Error(), opts) {
			t.Errorf("options %v: %v", want, err)
		}
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "volumes")); len(ents) != 0 {
		t.Errorf("refused creates left %v", ents)
	}
	if want := []string{"volume create data", "volume destroy data"}; !slices.Equal(rec.got, want) {
		t.Errorf("events %v, want %v", rec.got, want)
	}
}

func TestOpenRepairs(t *testing.T) {
	root := t.TempDir()
	s, _ := open(t, root)
	ctx := context.Background()
	if _, _, err := s.Create(ctx, CreateOptions{Name: "full", Labels: map[string]string{"k": "v"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Create(ctx, CreateOptions{Name: "nodata"}); err != nil {
		t.Fatal(err)
	}
	vols := filepath.Join(root, "volumes")
	for _, d := range []string{".staging-half/_data", ".removed-old-1/_data/x", "bare/_data", "notavolume..x/_data"} {
		if err := os.MkdirAll(filepath.Join(vols, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Rename(filepath.Join(vols, "notavolume..x"), filepath.Join(vols, "-bad"))
	if err := os.WriteFile(filepath.Join(vols, "stray-file"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(vols, "nodata", "_data")); err != nil {
		t.Fatal(err)
	}
	s2, _ := open(t, root)
	list, err := s2.List(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range list {
		names = append(names, v.Name)
	}
	if !slices.Equal(names, []string{"bare", "full", "nodata"}) {
		t.Errorf("after repair: %v", names)
	}
	for _, gone := range []string{".staging-half", ".removed-old-1"} {
		if _, err := os.Stat(filepath.Join(vols, gone)); !os.IsNotExist(err) {
			t.Errorf("%s left: %v", gone, err)
		}
	}
	if _, err := os.Stat(filepath.Join(vols, "nodata", "_data")); err != nil {
		t.Errorf("nodata's data dir not remade: %v", err)
	}
	if _, err := os.Stat(filepath.Join(vols, "bare", metaFile)); err != nil {
		t.Errorf("bare got no metadata: %v", err)
	}
	if v, _ := s2.Get(ctx, "full"); v.Labels["k"] != "v" {
		t.Errorf("labels lost: %+v", v)
	}
}

func TestListFiltersAndPrune(t *testing.T) {
	s, _ := open(t, t.TempDir())
	ctx := context.Background()
	mk := func(name string, labels map[string]string, ref string) string {
		v, _, err := s.Create(ctx, CreateOptions{Name: name, Labels: labels, Ref: ref})
		if err != nil {
			t.Fatal(err)
		}
		return v.Name
	}
	mk("web1", map[string]string{"tier": "web"}, "")
	mk("db1", map[string]string{"tier": "db", "keep": ""}, "ctr")
	anon := mk("", nil, "")
	mk("db2", map[string]string{"tier": "db"}, "")
	if err := os.WriteFile(filepath.Join(s.Path("db2"), "f"), make([]byte, 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	names := func(f Filters) string {
		list, err := s.List(ctx, f)
		if err != nil {
			return "error: " + err.Error()
		}
		var out []string
		for _, v := range list {
			out = append(out, v.Name)
		}
		return strings.Join(out, " ")
	}
	for _, c := range []struct {
		f    Filters
		want string
	}{
		{Filters{"label": {"tier=db"}}, "db1 db2"},
		{Filters{"label": {"tier=db", "keep"}}, "db1"},
		{Filters{"label": {"tier"}}, "db1 db2 web1"},
		{Filters{"dangling": {"true"}, "label": {"tier"}}, "db2 web1"},
		{Filters{"dangling": {"0"}}, "db1"},
		{Filters{"name": {"^db"}}, "db1 db2"},
		{Filters{"name": {"^web", "^db2$"}}, "db2 web1"},
		{Filters{"driver": {"local"}, "label": {"tier=web"}}, "web1"},
		{Filters{"driver": {"nfs"}}, ""},
		{Filters{"dangling": {"maybe"}}, "error: invalid filter 'dangling=maybe'"},
		{Filters{"colour": {"x"}}, "error: invalid filter 'colour'"},
	} {
		if got := names(c.f); got != c.want {
			t.Errorf("%v: %q, want %q", c.f, got, c.want)
		}
	}
	// Prune: anonymous only by default, label filters, all=true.
	rep, err := s.Prune(ctx, nil)
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{anon}) {
		t.Fatalf("prune: %v %v", rep, err)
	}
	rep, err = s.Prune(ctx, Filters{"all": {"true"}, "label!": {"tier=web"}})
	if err != nil || !slices.Equal(rep.VolumesDeleted, []string{"db2"}) || rep.SpaceReclaimed != 1000 {
		t.Fatalf("prune all, not web: %+v %v", rep, err)
	}
	if _, err := s.Prune(ctx, Filters{"dangling": {"true"}}); err == nil || err.Error() != "invalid filter 'dangling'" {
		t.Errorf("prune with a list filter: %v", err)
	}
	if _, err := s.Prune(ctx, Filters{"all": {"yes please"}}); err == nil || !strings.HasPrefix(err.Error(), "invalid filter 'all'") {
		t.Errorf("prune all=?: %v", err)
	}
	if got := names(nil); got != "db1 web1" {
		t.Errorf("left after prune: %q", got)
	}
	usage, err := s.Usage(ctx)
	if err != nil || len(usage) != 2 || usage[0].UsageData == nil || usage[0].UsageData.RefCount != 1 {
		t.Errorf("usage: %+v %v", usage, err)
	}
}

// A name as long as a file name may be still makes a volume: the staged
// and trashed directories do not carry it.
func TestLongName(t *testing.T) {
	s, _ := open(t, t.TempDir())
	name := strings.Repeat("v", 255)
	if _, _, err := s.Create(context.Background(), CreateOptions{Name: name}); err != nil {
		t.Fatal(err)
	}
	if err := s.Remove(context.Background(), name, false); err != nil {
		t.Fatal(err)
	}
}
