package hugeheap

import "testing"

func TestShortLived(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"gantry", "images"}, true},
		{[]string{"/usr/bin/gantry", "runtime", "run", "x"}, true},
		{[]string{"/proc/self/exe", "init"}, false},
		{[]string{"gantry"}, true},
		{[]string{"/usr/local/bin/gantry", "daemon", "-D"}, false},
		{[]string{"/proc/self/exe", "shim", "--standby"}, false},
		{[]string{"/sbin/docker-init", "--", "sh"}, false},
		{[]string{"docker-init"}, false},
	} {
		if got := shortLived(tc.args); got != tc.want {
			t.Errorf("shortLived(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}
