package runtime

import (
	"testing"

	"github.com/opencontainers/runc/libcontainer/configs"
	"github.com/opencontainers/runc/libcontainer/specconv"
)

// accepts says whether one of the single-argument rules for name at argument
// index idx lets value v through.
func accepts(rules []*configs.Syscall, name string, idx uint, v uint64) bool {
	for _, r := range rules {
		if r.Name != name || len(r.Args) != 1 || r.Args[0].Index != idx {
			continue
		}
		a := r.Args[0]
		var ok bool
		switch a.Op {
		case configs.EqualTo:
			ok = v == a.Value
		case configs.NotEqualTo:
			ok = v != a.Value
		case configs.LessThan:
			ok = v < a.Value
		case configs.LessThanOrEqualTo:
			ok = v <= a.Value
		case configs.GreaterThan:
			ok = v > a.Value
		case configs.GreaterThanOrEqualTo:
			ok = v >= a.Value
		case configs.MaskEqualTo:
			ok = v&a.Value == a.ValueTwo
		}
		if ok {
			return true
		}
	}
	return false
}

func TestCompactArgRulesIsExact(t *testing.T) {
	spec := specconv.Example()
	profile, err := DefaultSeccomp(spec)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := specconv.SetupSeccomp(profile)
	if err != nil {
		t.Fatal(err)
	}
	compact, err := specconv.SetupSeccomp(profile)
	if err != nil {
		t.Fatal(err)
	}
	compactArgRules(compact)
	if len(compact.Syscalls) >= len(orig.Syscalls) {
		t.Fatalf("no rule merged: %d rules before, %d after", len(orig.Syscalls), len(compact.Syscalls))
	}
	values := []uint64{1 << 32, 1<<32 | 2, 1 << 63, ^uint64(0), 0xffffffff, 0x80000000}
	for v := uint64(0); v < 1<<16; v++ {
		values = append(values, v)
	}
	for _, name := range []string{"socket", "personality", "clone", "clone3"} {
		for idx := uint(0); idx < 6; idx++ {
			for _, v := range values {
				if a, b := accepts(orig.Syscalls, name, idx, v), accepts(compact.Syscalls, name, idx, v); a != b {
					t.Fatalf("%s(arg%d = %#x): accepted %v before compaction, %v after", name, idx, v, a, b)
				}
			}
		}
	}
}

func TestMinCoverExact(t *testing.T) {
	sets := [][]uint64{{0}, {1, 2, 3}, {0, 1, 2, 3, 8}, {4, 5, 6, 7, 12, 13, 14, 15, 40}, {0, 0x28, 0x20000}}
	for _, vals := range sets {
		set := map[uint64]bool{}
		for _, v := range vals {
			set[v] = true
		}
		cover := minCover(set)
		for v := uint64(0); v < 1<<18; v++ {
			in := false
			for _, c := range cover {
				if v&^c.dc == c.val {
					in = true
				}
			}
			if in != set[v] {
				t.Fatalf("set %v: cover %+v gives %v for %d", vals, cover, in, v)
			}
		}
	}
}
