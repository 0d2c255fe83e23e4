package addressplan

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSubnetsSortedAndChecked(t *testing.T) {
	vpc := netip.MustParsePrefix("10.64.0.0/16")
	tests := map[string]struct {
		subnets map[string]string
		want    []string
		wantErr string
	}{
		"zones come back sorted by name": {
			subnets: map[string]string{"frontend": "10.64.16.0/20", "application": "10.64.0.0/20"},
			want:    []string{"application=10.64.0.0/20", "frontend=10.64.16.0/20"},
		},
		"subnet equal to the VPC block is accepted": {
			subnets: map[string]string{"application": "10.64.0.0/16"},
			want:    []string{"application=10.64.0.0/16"},
		},
		"empty map is rejected": {
			subnets: map[string]string{},
			wantErr: "Subnets is empty",
		},
		"subnet larger than the VPC is rejected": {
			subnets: map[string]string{"application": "10.64.0.0/15"},
			wantErr: "/15",
		},
		"subnet outside the VPC is rejected": {
			subnets: map[string]string{"application": "10.65.0.0/20"},
			wantErr: "is outside the VPC block 10.64.0.0/16",
		},
		"overlapping subnets are rejected": {
			subnets: map[string]string{"application": "10.64.0.0/20", "data": "10.64.8.0/24"},
			wantErr: `Subnets["data"] 10.64.8.0/24 overlaps Subnets["application"] 10.64.0.0/20`,
		},
		"zone name with capitals is rejected": {
			subnets: map[string]string{"Frontend": "10.64.0.0/20"},
			wantErr: `zone name "Frontend" is invalid`,
		},
		"IPv6 subnet is rejected": {
			subnets: map[string]string{"application": "fd00::/64"},
			wantErr: "is not IPv4",
		},
		"subnet smaller than /28 is rejected": {
			subnets: map[string]string{"application": "10.64.0.0/29"},
			wantErr: "AWS accepts /16 to /28",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := Subnets(vpc, tc.subnets)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Subnets error = %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Subnets: %v", err)
			}
			var pairs []string
			for _, s := range got {
				pairs = append(pairs, s.Zone+"="+s.CIDR.String())
			}
			if diff := cmp.Diff(tc.want, pairs); diff != "" {
				t.Errorf("subnets differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseBlockRejectsHostBits(t *testing.T) {
	tests := map[string]struct {
		value   string
		wantErr string
	}{
		"IPv4 with host bits": {value: "10.64.1.0/16", wantErr: "use the network address 10.64.0.0/16"},
		"IPv6 with host bits": {value: "2001:db8::1/32", wantErr: "use the network address 2001:db8::/32"},
		"not a CIDR":          {value: "10.64.0.0", wantErr: "is not a CIDR block"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBlock("VPCCIDR", tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseBlock(%q) error = %v, want one containing %q", tc.value, err, tc.wantErr)
			}
		})
	}
}

func TestMergeTagsExtraWins(t *testing.T) {
	got := MergeTags(map[string]string{"Name": "caller", "team": "network"}, map[string]string{"Name": "module"})
	want := map[string]string{"Name": "module", "team": "network"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("MergeTags differs (-want +got):\n%s", diff)
	}
}
