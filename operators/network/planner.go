package network

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	ipamapi "github.com/ukhomeoffice/estate/internal/ipam/fromapi"
	"github.com/ukhomeoffice/estate/internal/segmentation"
	modseg "github.com/ukhomeoffice/estate/modules/segmentation"
	"github.com/ukhomeoffice/estate/stacks/siteaws"
)

// CloudPlanner plans a cloud site's Pulumi stack (stacks/siteaws) for a
// workload without a Pulumi engine or credentials. It runs the stack
// program under Pulumi's mocks, with the site's blocks from the address
// plan and the security groups that the segmentation compiler produced.
type CloudPlanner struct {
	Client client.Reader
}

// Plan returns the site network, the PSN attachment and the workload's own
// security group with its rules, as the stack would declare them.
func (p CloudPlanner) Plan(ctx context.Context, site *estatev1.HostingSite, w *estatev1.Workload) ([]estatev1.PlannedResource, error) {
	live, err := CompileLive(ctx, p.Client)
	if err != nil {
		return nil, err
	}
	n, plan, out := live.Network, live.Plan, live.Output

	args := siteaws.SiteArgs{Site: site.Name, Subnets: map[string]string{}, Tags: map[string]string{"estate.homeoffice.gov.uk/site": site.Name}}
	for _, sb := range plan.Sites {
		if sb.Site != site.Name {
			continue
		}
		args.VPCCIDR = firstIPv4(ipamapi.Strings(sb.Prefixes))
		for _, z := range sb.Zones {
			args.Subnets[z.Zone] = firstIPv4(ipamapi.Strings(z.Prefixes))
		}
	}
	if args.VPCCIDR == "" {
		return nil, fmt.Errorf("hosting site %s has no IPv4 block in the address plan of network %s yet", site.Name, n.Name)
	}
	if _, ok := args.Subnets["internet-edge"]; ok {
		args.PublicZones = []string{"internet-edge"}
	}
	args.PSN = psnArgs(n, site.Name, args.Subnets)
	ownGroup := ""
	for _, sg := range out.SecurityGroups[site.Name] {
		args.SecurityGroups = append(args.SecurityGroups, group(sg))
		if sg.Workload == w.Namespace+"/"+w.Name {
			ownGroup = groupName(sg.Name)
		}
	}

	resources, err := siteaws.Plan(args)
	if err != nil {
		return nil, fmt.Errorf("planning stack %s for hosting site %s: %w", siteaws.Project, site.Name, err)
	}
	var planned []estatev1.PlannedResource
	for _, r := range resources {
		// Other workloads' groups belong to their own records.
		if strings.Contains(r.Type, "SecurityGroup") && (ownGroup == "" || !strings.Contains(r.Name, ownGroup)) {
			continue
		}
		planned = append(planned, estatev1.PlannedResource{Type: r.Type, Name: r.Name, Properties: keyProperties(r.Properties)})
	}
	return planned, nil
}

// psnArgs attaches the site to the PSN when a gateway is declared on it. The
// transit gateway is the psn-core stack's output, named here by reference.
func psnArgs(n *estatev1.Network, site string, subnets map[string]string) *siteaws.PSNArgs {
	if n.Spec.PSN == nil {
		return nil
	}
	for _, g := range n.Spec.PSN.Gateways {
		if g.Site != site {
			continue
		}
		zone := "psn-edge"
		if _, ok := subnets[zone]; !ok {
			for z := range subnets {
				zone = z
				break
			}
		}
		ranges := g.Ranges
		if len(ranges) == 0 {
			ranges = n.Spec.PSN.Ranges
		}
		return &siteaws.PSNArgs{TransitGatewayID: "psn-core.transitGatewayId", AttachmentZones: []string{zone}, Ranges: ranges}
	}
	return nil
}

func group(sg segmentation.SecurityGroup) modseg.Group {
	g := modseg.Group{Name: groupName(sg.Name), Description: "Workload " + sg.Workload}
	convert := func(rules []segmentation.SGRule) []modseg.Rule {
		out := make([]modseg.Rule, 0, len(rules))
		for _, r := range rules {
			out = append(out, modseg.Rule{
				Protocol: r.Protocol, FromPort: int(r.FromPort), ToPort: int(r.ToPort),
				CIDRs: ipamapi.Strings(r.CIDRs), SourceGroup: groupName(r.SourceGroup), Description: r.Description,
			})
		}
		return out
	}
	g.Ingress, g.Egress = convert(sg.Ingress), convert(sg.Egress)
	return g
}

// keyProperties keeps the properties an auditor reads: addresses, ports,
// protocols and names, at most 12, in key order.
func keyProperties(props map[string]string) map[string]string {
	keys := make([]string, 0, len(props))
	for k := range props {
		lower := strings.ToLower(k)
		if strings.Contains(lower, "cidr") || strings.Contains(lower, "port") || strings.Contains(lower, "protocol") ||
			strings.HasSuffix(lower, "name") || strings.Contains(lower, "destination") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	if len(keys) > 12 {
		keys = keys[:12]
	}
	out := make(map[string]string, len(keys))
	for _, k := range keys {
		out[k] = props[k]
	}
	return out
}

// groupName turns a compiler group name such as "estate.ns.name" into the
// DNS-label form the segmentation module takes.
func groupName(name string) string {
	return strings.ReplaceAll(name, ".", "-")
}

func firstIPv4(cidrs []string) string {
	for _, c := range cidrs {
		if !strings.Contains(c, ":") {
			return c
		}
	}
	return ""
}
