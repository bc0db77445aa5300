package cli

import "testing"

func TestSplitCpArg(t *testing.T) {
	for _, c := range []struct{ arg, ctr, path string }{
		{"c1:/etc", "c1", "/etc"},
		{"/abs/a:b", "", "/abs/a:b"},
		{"./a:b", "", "./a:b"},
		{"file", "", "file"},
		{"c1:", "c1", ""},
		{"-", "", "-"},
	} {
		ctr, p := splitCpArg(c.arg)
		if ctr != c.ctr || p != c.path {
			t.Errorf("splitCpArg(%q) = %q, %q; want %q, %q", c.arg, ctr, p, c.ctr, c.path)
		}
	}
}

// placeCopy and renamed follow docker's rules for where a copy lands.
func TestPlaceCopy(t *testing.T) {
	for _, c := range []struct {
		srcIsDir            bool
		srcBase, dst        string
		exists, isDir       bool
		dir, entry, renamed string
		err                 string
	}{
		{srcIsDir: true, srcBase: "d", dst: "/x", exists: true, isDir: true, dir: "/x", entry: "d/f", renamed: "d/f"},
		{srcIsDir: true, srcBase: "d", dst: "/x/new", dir: "/x", entry: "d/f", renamed: "new/f"},
		{srcIsDir: true, srcBase: ".", dst: "/x/new", dir: "/x", entry: "./f", renamed: "new/f"},
		{srcIsDir: true, srcBase: "/", dst: "/x/new", dir: "/x", entry: "/bin/sh", renamed: "new/bin/sh"},
		{srcIsDir: true, srcBase: "d", dst: "/x/file", exists: true, err: "cannot copy directory"},
		{srcBase: "f", dst: "/x/", exists: true, isDir: true, dir: "/x", entry: "f", renamed: "f"},
		{srcBase: "f", dst: "/x/g", exists: true, dir: "/x", entry: "f", renamed: "g"},
		{srcBase: "f", dst: "/x/g", dir: "/x", entry: "f", renamed: "g"},
		{srcBase: "f", dst: "/x/nodir/", err: "no such directory"},
		{srcBase: "ff", dst: "/x/g", dir: "/x", entry: "ff.txt", renamed: "ff.txt"}, // not the source's entry
	} {
		tgt, err := placeCopy(c.srcIsDir, c.srcBase, c.dst, c.exists, c.isDir)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%+v: err %v, want %q", c, err, c.err)
			}
			continue
		}
		if err != nil || tgt.dir != c.dir || tgt.renamed(c.entry) != c.renamed {
			t.Errorf("%+v: %+v %v, renamed %q", c, tgt, err, tgt.renamed(c.entry))
		}
	}
}
