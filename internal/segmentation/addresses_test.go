package segmentation_test

import (
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go4.org/netipx"

	"github.com/ukhomeoffice/estate/internal/segmentation"
)

func TestInternet(t *testing.T) {
	metadata := mustPrefixes("169.254.169.254/32", "fd00:ec2::254/128")
	// The IPv6 internet is the same in every case below: ::/0 minus
	// fc00::/7 (ULA, which holds fd00:ec2::254) and fe80::/10 (link-local).
	internet6 := []string{
		"::-fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"fe00::-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"fec0::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	}
	tests := []struct {
		name                      string
		department, psn, metadata []netip.Prefix
		want                      []string
	}{
		{
			name:     "private and link-local space alone",
			metadata: metadata,
			want: append([]string{
				"0.0.0.0-9.255.255.255",
				"11.0.0.0-169.253.255.255",
				"169.255.0.0-172.15.255.255",
				"172.32.0.0-192.167.255.255",
				"192.169.0.0-255.255.255.255",
			}, internet6...),
		},
		{
			name:       "department space inside RFC 1918 changes nothing",
			department: mustPrefixes("10.64.0.0/10"),
			metadata:   metadata,
			want: append([]string{
				"0.0.0.0-9.255.255.255",
				"11.0.0.0-169.253.255.255",
				"169.255.0.0-172.15.255.255",
				"172.32.0.0-192.167.255.255",
				"192.169.0.0-255.255.255.255",
			}, internet6...),
		},
		{
			name:       "public PSN range and department space inside it are removed",
			department: mustPrefixes("10.64.0.0/10", "51.224.0.0/16"),
			psn:        mustPrefixes("51.0.0.0/8"),
			metadata:   metadata,
			want: append([]string{
				"0.0.0.0-9.255.255.255",
				"11.0.0.0-50.255.255.255",
				"52.0.0.0-169.253.255.255",
				"169.255.0.0-172.15.255.255",
				"172.32.0.0-192.167.255.255",
				"192.169.0.0-255.255.255.255",
			}, internet6...),
		},
		{
			name:     "metadata address outside private space is removed exactly",
			metadata: mustPrefixes("100.100.100.200/32"),
			want: append([]string{
				"0.0.0.0-9.255.255.255",
				"11.0.0.0-100.100.100.199",
				"100.100.100.201-169.253.255.255",
				"169.255.0.0-172.15.255.255",
				"172.32.0.0-192.167.255.255",
				"192.169.0.0-255.255.255.255",
			}, internet6...),
		},
		{
			name:       "public IPv6 department space is removed",
			department: mustPrefixes("2a01:4c8::/32"),
			metadata:   metadata,
			want: []string{
				"0.0.0.0-9.255.255.255",
				"11.0.0.0-169.253.255.255",
				"169.255.0.0-172.15.255.255",
				"172.32.0.0-192.167.255.255",
				"192.169.0.0-255.255.255.255",
				"::-2a01:4c7:ffff:ffff:ffff:ffff:ffff:ffff",
				"2a01:4c9::-fbff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
				"fe00::-fe7f:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
				"fec0::-ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := segmentation.Internet(tt.department, tt.psn, tt.metadata)
			if err != nil {
				t.Fatalf("Internet: %v", err)
			}
			var got []string
			for _, r := range set.Ranges() {
				got = append(got, r.String())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("internet ranges (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInternetExcludesEveryNonInternetAddress(t *testing.T) {
	department := mustPrefixes("10.64.0.0/10", "51.224.0.0/16", "2a01:4c8::/32")
	psn := mustPrefixes("51.0.0.0/8", "25.0.0.0/8")
	metadata := mustPrefixes("169.254.169.254/32", "fd00:ec2::254/128")
	set, err := segmentation.Internet(department, psn, metadata)
	if err != nil {
		t.Fatalf("Internet: %v", err)
	}

	excluded := append(append(append(department, psn...), metadata...), segmentation.PrivateRanges()...)
	for _, p := range excluded {
		if set.OverlapsPrefix(p) {
			t.Errorf("internet overlaps %s", p)
		}
	}

	var b netipx.IPSetBuilder
	b.AddSet(set)
	for _, p := range excluded {
		b.AddPrefix(p)
	}
	union, err := b.IPSet()
	if err != nil {
		t.Fatalf("IPSet: %v", err)
	}
	for _, all := range mustPrefixes("0.0.0.0/0", "::/0") {
		if !union.ContainsPrefix(all) {
			t.Errorf("internet and the excluded ranges together do not cover %s", all)
		}
	}

	for _, addr := range []string{"8.8.8.8", "1.1.1.1", "52.0.0.1", "2001:4860:4860::8888"} {
		if !set.Contains(netip.MustParseAddr(addr)) {
			t.Errorf("internet does not contain the public address %s", addr)
		}
	}
}

func TestAddressSummary(t *testing.T) {
	out, err := segmentation.Compile(fixtureIntent())
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	internet, err := segmentation.Internet(fixtureIntent().DepartmentSpaces, fixtureIntent().PSNRanges, mustPrefixes("169.254.169.254/32", "fd00:ec2::254/128"))
	if err != nil {
		t.Fatalf("Internet: %v", err)
	}
	tests := []struct {
		name string
		got  any
		want any
	}{
		{"internet is the complement", out.Addresses.Internet, internet.Prefixes()},
		{"PSN excludes the department space within it", prefixStrings(out.Addresses.PSN), "51.0.0.0/9,51.128.0.0/10,51.192.0.0/11,51.225.0.0/16,51.226.0.0/15,51.228.0.0/14,51.232.0.0/13,51.240.0.0/12"},
		{"zone covers its blocks at every site", prefixStrings(out.Addresses.Zones["application"]), "10.64.16.0/20,10.65.16.0/20"},
		{"workload addresses are listed by key", prefixStrings(out.Addresses.Workloads["web/portal"]), "10.64.0.0/28,fd10::/64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.got, prefixComparer); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
