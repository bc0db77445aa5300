package flagvalue

import (
	"testing"
)

// validatorCase is one input to a validator: the value it returns, or
// the exact error docker gives.
type validatorCase struct {
	in, want, err string
}

func checkValidator(t *testing.T, name string, v Validator, cases []validatorCase) {
	t.Helper()
	for _, c := range cases {
		got, err := v(c.in)
		if c.err != "" {
			if err == nil || err.Error() != c.err {
				t.Errorf("%s(%q) error = %v, want %q", name, c.in, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%s(%q) = %q, %v; want %q", name, c.in, got, err, c.want)
		}
	}
}

func TestValidateEnv(t *testing.T) {
	t.Setenv("FLAGVALUE_SET", "from-env")
	checkValidator(t, "ValidateEnv", ValidateEnv, []validatorCase{
		{in: "A=b", want: "A=b"},
		{in: "A=", want: "A="},
		{in: "a b=c", want: "a b=c"}, // names are the container's business
		{in: "FLAGVALUE_SET", want: "FLAGVALUE_SET=from-env"},
		{in: "FLAGVALUE_UNSET_X", want: "FLAGVALUE_UNSET_X"},
		{in: "=x", err: "invalid environment variable: =x"},
		{in: "", err: "invalid environment variable: "},
	})
}

func TestValidateLabel(t *testing.T) {
	checkValidator(t, "ValidateLabel", ValidateLabel, []validatorCase{
		{in: "a=b", want: "a=b"},
		{in: "a", want: "a"},
		{in: "  a= b ", want: "  a= b "},
		{in: "=b", err: "invalid label '=b': empty name"},
		{in: " =b", err: "invalid label ' =b': empty name"},
		{in: "a b=c", err: "label 'a b' contains whitespaces"},
		{in: "a\t=c", err: "label 'a\t' contains whitespaces"},
	})
}

func TestValidateIPAddress(t *testing.T) {
	checkValidator(t, "ValidateIPAddress", ValidateIPAddress, []validatorCase{
		{in: "1.2.3.4", want: "1.2.3.4"},
		{in: " 1.2.3.4 ", want: "1.2.3.4"},
		{in: "2001:0db8::0001", want: "2001:db8::1"},
		{in: "[::1]", err: "IP address is not correctly formatted: [::1]"},
		{in: "bad", err: "IP address is not correctly formatted: bad"},
	})
}

func TestValidateDNSSearch(t *testing.T) {
	long := ""
	for len(long) < 255 {
		long += "abcdefgh."
	}
	checkValidator(t, "ValidateDNSSearch", ValidateDNSSearch, []validatorCase{
		{in: ".", want: "."},
		{in: " . ", want: "."},
		{in: "example.com", want: "example.com"},
		{in: "example.com.", want: "example.com"},
		{in: "a-b.c", want: "a-b.c"},
		{in: "1a", want: "1a"},
		{in: ":foo", want: ":foo"}, // docker's "(:?" quirk, kept
		{in: "foo:.bar", want: "foo:.bar"},
		{in: "123", err: "123 is not a valid domain"},
		{in: "-a.com", err: "-a.com is not a valid domain"},
		{in: "a-.com", err: "a-.com is not a valid domain"},
		{in: "a..b", err: "a..b is not a valid domain"},
		{in: "a_b", err: "a_b is not a valid domain"},
		{in: long + "com", err: long + "com is not a valid domain"},
	})
}

func TestValidateSysctl(t *testing.T) {
	checkValidator(t, "ValidateSysctl", ValidateSysctl, []validatorCase{
		{in: "net.ipv4.ip_forward=1", want: "net.ipv4.ip_forward=1"},
		{in: "kernel.shm_rmid_forced=1", want: "kernel.shm_rmid_forced=1"},
		{in: "fs.mqueue.msg_max=10", want: "fs.mqueue.msg_max=10"},
		{in: "kernel.pid_max=1", err: "sysctl 'kernel.pid_max=1' is not allowed"},
		{in: "net.ipv4.ip_forward", err: "sysctl 'net.ipv4.ip_forward' is not allowed"},
		{in: "=1", err: "sysctl '=1' is not allowed"},
	})
}

func TestValidateLink(t *testing.T) {
	checkValidator(t, "ValidateLink", ValidateLink, []validatorCase{
		{in: "db", want: "db"},
		{in: "db:alias", want: "db:alias"},
		{in: "", err: "empty string specified for links"},
		{in: "a:b:c", err: "bad format for links: a:b:c"},
	})
	for _, c := range []struct{ in, name, alias string }{
		{"db", "db", "db"},
		{"db:d", "db", "d"},
		{"/db:/web/d", "db", "d"},
	} {
		name, alias, err := ParseLink(c.in)
		if err != nil || name != c.name || alias != c.alias {
			t.Errorf("ParseLink(%q) = %q, %q, %v", c.in, name, alias, err)
		}
	}
}

func TestValidateExtraHost(t *testing.T) {
	checkValidator(t, "ValidateExtraHost", ValidateExtraHost, []validatorCase{
		{in: "h:1.2.3.4", want: "h:1.2.3.4"},
		{in: "h=1.2.3.4", want: "h:1.2.3.4"},
		{in: "h=::1", want: "h:::1"},
		{in: "h=[::1]", want: "h:::1"},
		{in: "h:[::1]", want: "h:::1"},
		{in: "h:host-gateway", want: "h:host-gateway"},
		{in: "h", err: `bad format for add-host: "h"`},
		{in: ":1.2.3.4", err: `bad format for add-host: ":1.2.3.4"`},
		{in: "h:x=1.2.3.4", err: `bad format for add-host: "h:x=1.2.3.4"`},
		{in: "h::1", err: `invalid IP address in add-host: ":1"`},
		{in: "h:bad", err: `invalid IP address in add-host: "bad"`},
	})
}
