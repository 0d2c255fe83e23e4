package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/printers"
)

// siteProvisioning summarises what one site received.
type siteProvisioning struct {
	Site             string         `json:"site"`
	Tier             string         `json:"tier"`
	Workloads        int            `json:"workloads"`
	States           map[string]int `json:"states"`
	Objects          int            `json:"objects"`
	PlannedResources int            `json:"plannedResources"`
}

func provisioningBySite(workloads []estatev1.Workload, sites []estatev1.HostingSite) []siteProvisioning {
	bySite := map[string]*siteProvisioning{}
	for i := range sites {
		bySite[sites[i].Name] = &siteProvisioning{Site: sites[i].Name, Tier: string(sites[i].Spec.Tier), States: map[string]int{}}
	}
	for i := range workloads {
		w := &workloads[i]
		if w.Status.Placement == nil || bySite[w.Status.Placement.Site] == nil {
			continue
		}
		sp := bySite[w.Status.Placement.Site]
		sp.Workloads++
		state := "Pending"
		if c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionProvisioned); c != nil {
			state = c.Reason
		}
		sp.States[state]++
		if p := w.Status.Provisioning; p != nil {
			sp.Objects += len(p.Objects)
			sp.PlannedResources += len(p.PlannedResources)
		}
	}
	out := make([]siteProvisioning, 0, len(bySite))
	for _, sp := range bySite {
		out = append(out, *sp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Site < out[j].Site })
	return out
}

func provisioningTable(rows []siteProvisioning) printers.Table {
	t := printers.Table{Columns: []printers.Column{
		{Name: "Site"}, {Name: "Tier"}, {Name: "Workloads"}, {Name: "State"}, {Name: "Objects applied"}, {Name: "Resources planned"},
	}}
	for _, r := range rows {
		states := make([]string, 0, len(r.States))
		for s, n := range r.States {
			states = append(states, fmt.Sprintf("%s %d", s, n))
		}
		sort.Strings(states)
		t.Rows = append(t.Rows, []string{r.Site, r.Tier, fmt.Sprint(r.Workloads), strings.Join(states, ", "), fmt.Sprint(r.Objects), fmt.Sprint(r.PlannedResources)})
	}
	return t
}

func printProvisioning(out io.Writer, workloads []estatev1.Workload, sites []estatev1.HostingSite) error {
	fmt.Fprintln(out, "Provisioning: Kubernetes-backed sites receive the objects through their own API server; cloud sites without a Pulumi engine and credentials get a plan only, and nothing is applied.")
	return printers.Print(out, "table", provisioningTable(provisioningBySite(workloads, sites)), nil)
}

func newGetProvisioningCommand(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "provisioning",
		Short: "Summarise, per site, what was applied or planned for its workloads",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			workloads, err := listWorkloads(cmd.Context(), c)
			if err != nil {
				return err
			}
			sites, err := listSites(cmd.Context(), c)
			if err != nil {
				return err
			}
			rows := provisioningBySite(workloads, sites)
			return printers.Print(cmd.OutOrStdout(), output, provisioningTable(rows), rows)
		},
	}
	addOutputFlag(cmd, &output)
	return cmd
}
