package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/network-policy-api/apis/v1alpha2"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/ipam"
	ipamapi "github.com/ukhomeoffice/estate/internal/ipam/fromapi"
	"github.com/ukhomeoffice/estate/internal/manifest"
	"github.com/ukhomeoffice/estate/internal/netverify"
	"github.com/ukhomeoffice/estate/internal/printers"
	"github.com/ukhomeoffice/estate/internal/segmentation"
	segapi "github.com/ukhomeoffice/estate/internal/segmentation/fromapi"
	"github.com/ukhomeoffice/estate/operators/network"
)

func newNetworkCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Plan, show and verify the department network's address plan and segmentation",
	}
	cmd.AddCommand(newNetworkPlanCommand(g), newNetworkShowCommand(g), newNetworkVerifyCommand(g))
	return cmd
}

// networkReport is the address plan as a tree, with a segmentation summary.
type networkReport struct {
	Network       string              `json:"network"`
	AddressSpaces []string            `json:"addressSpaces"`
	PSNRanges     []string            `json:"psnRanges,omitempty"`
	Sites         []siteReport        `json:"sites"`
	Segmentation  *segmentationReport `json:"segmentation,omitempty"`
	Problems      []string            `json:"problems,omitempty"`
}

type siteReport struct {
	Site  string       `json:"site"`
	CIDRs []string     `json:"cidrs"`
	Zones []zoneReport `json:"zones"`
}

type zoneReport struct {
	Zone      string           `json:"zone"`
	CIDRs     []string         `json:"cidrs"`
	Workloads []workloadReport `json:"workloads,omitempty"`
}

type workloadReport struct {
	Workload string   `json:"workload"`
	CIDRs    []string `json:"cidrs"`
}

type segmentationReport struct {
	ClusterNetworkPolicies int                      `json:"clusterNetworkPolicies"`
	NetworkPolicies        int                      `json:"networkPolicies"`
	SecurityGroupRules     map[string]int           `json:"securityGroupRules"`
	FirewallRules          map[string]int           `json:"firewallRules"`
	Rejected               []segmentation.Rejection `json:"rejected"`
	Proof                  *netverify.Result        `json:"proof,omitempty"`
}

func newNetworkPlanCommand(g *globalOptions) *cobra.Command {
	var (
		paths  []string
		output string
	)
	cmd := &cobra.Command{
		Use:   "plan -f DIR",
		Short: "Place, address and segment manifests offline, and prove the result",
		Long: `network plan places the workloads as plan does, carves the address plan,
compiles the zone matrix and flows into every enforcement point and proves
the Kubernetes policies against the intent. No server is contacted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := loadManifests(paths)
			if err != nil {
				return err
			}
			report, err := planNetwork(set, time.Now())
			if err != nil {
				return err
			}
			return printNetworkReport(cmd.OutOrStdout(), output, report)
		},
	}
	cmd.Flags().StringArrayVarP(&paths, "filename", "f", nil, "File or directory of manifests, read recursively; repeat to combine several.")
	_ = cmd.MarkFlagRequired("filename")
	addOutputFlag(cmd, &output)
	return cmd
}

// planNetwork runs placement, allocation, compilation and the proof over a
// manifest set, as the operators would.
func planNetwork(set *manifest.Set, now time.Time) (*networkReport, error) {
	if len(set.Networks) == 0 {
		return nil, fmt.Errorf("no Network in the manifests: add one with spec.addressSpaces and spec.zones")
	}
	workloads, err := planWorkloads(set, now)
	if err != nil {
		return nil, err
	}
	for i := range workloads {
		workloads[i].UID = types.UID("planned-" + workloadKey(&workloads[i]))
	}
	n := &set.Networks[0]
	spec := ipamapi.Spec(n)
	if errs := ipam.Validate(spec, ipamapi.Sites(set.Sites)); len(errs) > 0 {
		return nil, fmt.Errorf("Network %s: %s", n.Name, ipamapi.FieldErrorsMessage(errs))
	}
	plan, problems, err := ipam.Allocate(spec, ipamapi.Sites(set.Sites), ipamapi.Holders(workloads), ipam.Plan{})
	if err != nil {
		return nil, err
	}
	intent := segapi.Intent(n, set.Sites, workloads, set.Enclaves, plan)
	out, err := segmentation.Compile(intent)
	if err != nil {
		return nil, fmt.Errorf("compiling segmentation: %w", err)
	}
	report := addressReport(n, plan)
	for _, p := range problems {
		report.Problems = append(report.Problems, p.Error())
	}
	report.Segmentation = summarise(out)
	proof := netverify.Verify(intent, out.Rejected, out.NetworkPolicies, out.ClusterNetworkPolicies)
	report.Segmentation.Proof = &proof
	return report, nil
}

func workloadKey(w *estatev1.Workload) string { return w.Namespace + "/" + w.Name }

func addressReport(n *estatev1.Network, plan ipam.Plan) *networkReport {
	report := &networkReport{Network: n.Name, AddressSpaces: n.Spec.AddressSpaces, Sites: []siteReport{}}
	if n.Spec.PSN != nil {
		report.PSNRanges = n.Spec.PSN.Ranges
	}
	byZone := map[string][]workloadReport{}
	for _, wb := range plan.Workloads {
		byZone[wb.Site+"|"+wb.Zone] = append(byZone[wb.Site+"|"+wb.Zone], workloadReport{Workload: wb.Key, CIDRs: ipamapi.Strings(wb.Prefixes)})
	}
	for _, sb := range plan.Sites {
		sr := siteReport{Site: sb.Site, CIDRs: ipamapi.Strings(sb.Prefixes)}
		for _, z := range sb.Zones {
			sr.Zones = append(sr.Zones, zoneReport{Zone: z.Zone, CIDRs: ipamapi.Strings(z.Prefixes), Workloads: byZone[sb.Site+"|"+z.Zone]})
		}
		report.Sites = append(report.Sites, sr)
	}
	return report
}

func summarise(out *segmentation.Output) *segmentationReport {
	s := &segmentationReport{
		ClusterNetworkPolicies: len(out.ClusterNetworkPolicies),
		NetworkPolicies:        len(out.NetworkPolicies),
		SecurityGroupRules:     map[string]int{},
		FirewallRules:          map[string]int{},
		Rejected:               out.Rejected,
	}
	for site, groups := range out.SecurityGroups {
		for _, sg := range groups {
			s.SecurityGroupRules[site] += len(sg.Ingress) + len(sg.Egress)
		}
	}
	for site, rs := range out.Firewalls {
		s.FirewallRules[site] = len(rs.Rules)
	}
	return s
}

func printNetworkReport(out io.Writer, format string, r *networkReport) error {
	if format != "table" && format != "wide" {
		return printers.Print(out, format, printers.Table{}, r)
	}
	writeTree(out, r, format == "wide")
	if r.Segmentation == nil {
		return nil
	}
	s := r.Segmentation
	fmt.Fprintf(out, "\nSegmentation: %d ClusterNetworkPolicies, %d NetworkPolicies.\n\n", s.ClusterNetworkPolicies, s.NetworkPolicies)
	t := printers.Table{Columns: []printers.Column{{Name: "Site"}, {Name: "Enforcement"}, {Name: "Rules"}}}
	for _, site := range sortedKeys(s.SecurityGroupRules) {
		t.Rows = append(t.Rows, []string{site, "security groups", fmt.Sprint(s.SecurityGroupRules[site])})
	}
	for _, site := range sortedKeys(s.FirewallRules) {
		t.Rows = append(t.Rows, []string{site, "nftables", fmt.Sprint(s.FirewallRules[site])})
	}
	if err := printers.Print(out, "table", t, nil); err != nil {
		return err
	}
	if len(s.Rejected) > 0 {
		fmt.Fprintf(out, "\n%d flow(s) rejected:\n", len(s.Rejected))
		rt := printers.Table{Columns: []printers.Column{{Name: "Workload"}, {Name: "Flow"}, {Name: "Reason"}, {Name: "Message"}}}
		for _, rej := range s.Rejected {
			rt.Rows = append(rt.Rows, []string{rej.Workload, rej.Flow, string(rej.Reason), rej.Message})
		}
		if err := printers.Print(out, "table", rt, nil); err != nil {
			return err
		}
	}
	if s.Proof != nil {
		fmt.Fprintln(out)
		return writeProof(out, *s.Proof)
	}
	return nil
}

// writeTree prints network → site → zone → workload blocks. Zones with no
// workloads are shown only with wide output.
func writeTree(out io.Writer, r *networkReport, wide bool) {
	fmt.Fprintf(out, "%s  %s", r.Network, strings.Join(r.AddressSpaces, " "))
	if len(r.PSNRanges) > 0 {
		fmt.Fprintf(out, "  (PSN %s)", strings.Join(r.PSNRanges, " "))
	}
	fmt.Fprintln(out)
	for i, s := range r.Sites {
		lastSite := i == len(r.Sites)-1
		fmt.Fprintf(out, "%s %s  %s\n", branch(lastSite), s.Site, strings.Join(s.CIDRs, " "))
		var zones []zoneReport
		for _, z := range s.Zones {
			if wide || len(z.Workloads) > 0 {
				zones = append(zones, z)
			}
		}
		for j, z := range zones {
			lastZone := j == len(zones)-1
			fmt.Fprintf(out, "%s%s %s  %s\n", indent(lastSite), branch(lastZone), z.Zone, strings.Join(z.CIDRs, " "))
			for k, w := range z.Workloads {
				fmt.Fprintf(out, "%s%s%s %s  %s\n", indent(lastSite), indent(lastZone), branch(k == len(z.Workloads)-1), w.Workload, strings.Join(w.CIDRs, " "))
			}
		}
	}
}

func branch(last bool) string {
	if last {
		return "└─"
	}
	return "├─"
}

func indent(last bool) string {
	if last {
		return "   "
	}
	return "│  "
}

func sortedKeys(m map[string]int) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func writeProof(out io.Writer, p netverify.Result) error {
	if p.Proved() {
		_, err := fmt.Fprintf(out, "Proved: %d connections among %d endpoints checked; %d allowed, exactly as the intent declares.\n", p.Checked, p.Endpoints, p.Allowed)
		return err
	}
	fmt.Fprintf(out, "NOT proved: %d of %d connections differ from the intent:\n", len(p.Differences), p.Checked)
	t := printers.Table{Columns: []printers.Column{{Name: "From"}, {Name: "To"}, {Name: "Port"}, {Name: "Intent"}, {Name: "Policy"}, {Name: "Reason"}}}
	for _, d := range p.Differences {
		t.Rows = append(t.Rows, []string{d.From, d.To, fmt.Sprintf("%s/%d", d.Protocol, d.Port), verdictWord(d.Expected), verdictWord(d.Allowed), d.Reason})
	}
	return printers.Print(out, "table", t, nil)
}

func verdictWord(allowed bool) string {
	if allowed {
		return "allow"
	}
	return "deny"
}

func newNetworkShowCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the address plan held in the Network's status as a tree",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			n, err := network.Primary(cmd.Context(), c)
			if err != nil {
				return err
			}
			report := addressReport(n, ipamapi.PlanFromStatus(&n.Status))
			return printNetworkReport(cmd.OutOrStdout(), output, report)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

func newNetworkVerifyCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Prove the applied Kubernetes policies against the declared intent and list any difference",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			result, err := verifyLive(cmd.Context(), c)
			if err != nil {
				return err
			}
			if output == "table" || output == "wide" {
				if err := writeProof(cmd.OutOrStdout(), result); err != nil {
					return err
				}
			} else if err := printers.Print(cmd.OutOrStdout(), output, printers.Table{}, result); err != nil {
				return err
			}
			if !result.Proved() {
				return fmt.Errorf("the applied policies differ from the intent in %d connection(s)", len(result.Differences))
			}
			return nil
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}

// verifyLive rebuilds the intent from the objects on the server and proves
// the policies applied there against it.
func verifyLive(ctx context.Context, c client.Client) (netverify.Result, error) {
	report, err := liveNetworkReport(ctx, c)
	if err != nil {
		return netverify.Result{}, err
	}
	return *report.Segmentation.Proof, nil
}

// liveNetworkReport reads the address plan from the Network's status,
// recompiles the declared intent to summarise the enforcement points, and
// proves the policies applied on the server against that intent.
func liveNetworkReport(ctx context.Context, c client.Client) (*networkReport, error) {
	live, err := network.CompileLive(ctx, c)
	if err != nil {
		return nil, err
	}
	var (
		nps  networkingv1.NetworkPolicyList
		cnps v1alpha2.ClusterNetworkPolicyList
	)
	for _, list := range []client.ObjectList{&nps, &cnps} {
		if err := c.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %T: %w", list, err)
		}
	}
	report := addressReport(live.Network, live.Plan)
	report.Segmentation = summarise(live.Output)
	// The compiler's rejections are part of the intent: a rejected flow is
	// not allowed.
	proof := netverify.Verify(live.Intent, live.Output.Rejected, nps.Items, cnps.Items)
	report.Segmentation.Proof = &proof
	return report, nil
}
