package main

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/printers"
)

// placementRow is one workload in the placement table and its JSON form.
type placementRow struct {
	Workload        string `json:"workload"`
	Classification  string `json:"classification"`
	MissionCritical bool   `json:"missionCritical"`
	Tier            string `json:"tier,omitempty"`
	Site            string `json:"site,omitempty"`
	Placed          string `json:"placed"`
	Reason          string `json:"reason"`
	Message         string `json:"message,omitempty"`
}

// placementRows summarises each workload's recorded placement, sorted by
// namespace and name.
func placementRows(workloads []estatev1.Workload) []placementRow {
	rows := make([]placementRow, 0, len(workloads))
	for i := range workloads {
		w := &workloads[i]
		row := placementRow{
			Workload:        w.Namespace + "/" + w.Name,
			Classification:  string(w.Spec.Classification),
			MissionCritical: w.Spec.MissionCritical,
			Placed:          "Unknown",
			Reason:          "Pending",
		}
		if c := meta.FindStatusCondition(w.Status.Conditions, estatev1.ConditionPlaced); c != nil {
			row.Placed = string(c.Status)
		}
		if p := w.Status.Placement; p != nil {
			row.Tier, row.Site, row.Message = string(p.Tier), p.Site, p.Message
			row.Reason = shortReason(p)
		}
		rows = append(rows, row)
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].Workload < rows[j].Workload })
	return rows
}

// shortReason returns the table's one-line reason. For a workload below
// public cloud it names the filters that removed each better tier's sites.
// For an unplaced workload it counts the sites each filter removed.
func shortReason(p *estatev1.Placement) string {
	switch {
	case p.Site == "" && p.Reason == estatev1.ReasonUnknownSite:
		return p.Message
	case p.Site == "" && len(p.Sites) == 0:
		return p.Reason + ": " + p.Message
	case p.Site == "":
		return p.Reason + ": " + filterCounts(p)
	case p.Tier == estatev1.TierPublicCloud:
		return "cloud first: best-scoring public cloud site"
	}
	// Name, per tier above the chosen one, the filters that removed its sites.
	var parts []string
	for _, tier := range []estatev1.Tier{estatev1.TierPublicCloud, estatev1.TierPrivateCloud} {
		if tier == p.Tier {
			break
		}
		var reasons []string
		seen := map[string]bool{}
		for _, o := range p.Sites {
			if o.Tier == tier && !o.Eligible && !seen[o.Reason] {
				seen[o.Reason] = true
				reasons = append(reasons, o.Reason)
			}
		}
		if len(reasons) > 0 {
			parts = append(parts, string(tier)+": "+strings.Join(reasons, ", "))
		}
	}
	if len(parts) == 0 {
		return p.Reason
	}
	return "rejected " + strings.Join(parts, "; ")
}

func filterCounts(p *estatev1.Placement) string {
	counts := map[string]int{}
	for _, o := range p.Sites {
		if !o.Eligible {
			counts[o.Reason]++
		}
	}
	reasons := make([]string, 0, len(counts))
	for r := range counts {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	parts := make([]string, 0, len(reasons))
	for _, r := range reasons {
		parts = append(parts, strconv.Itoa(counts[r])+" "+r)
	}
	return strings.Join(parts, ", ")
}

func placementTable(rows []placementRow) printers.Table {
	t := printers.Table{Columns: []printers.Column{
		{Name: "Workload"}, {Name: "Classification"}, {Name: "Tier"}, {Name: "Site"},
		{Name: "Reason"}, {Name: "Placed", Wide: true}, {Name: "Message", Wide: true},
	}}
	for _, r := range rows {
		t.Rows = append(t.Rows, []string{r.Workload, r.Classification, r.Tier, r.Site, r.Reason, r.Placed, r.Message})
	}
	return t
}

func newGetCommand(g *globalOptions) *cobra.Command {
	var output string
	get := &cobra.Command{
		Use:   "get",
		Short: "Display estate views",
	}
	placements := &cobra.Command{
		Use:   "placements",
		Short: "List every workload with its classification, tier, site and reason",
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
			rows := placementRows(workloads)
			return printers.Print(cmd.OutOrStdout(), output, placementTable(rows), rows)
		},
	}
	addOutputFlag(placements, &output)
	get.AddCommand(placements, newGetProvisioningCommand(g))
	return get
}

func listWorkloads(ctx context.Context, c reader) ([]estatev1.Workload, error) {
	list := &estatev1.WorkloadList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing workloads: %w", err)
	}
	return list.Items, nil
}

func listSites(ctx context.Context, c reader) ([]estatev1.HostingSite, error) {
	list := &estatev1.HostingSiteList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing hosting sites: %w", err)
	}
	return list.Items, nil
}
