package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/ukhomeoffice/estate/internal/audit"
	"github.com/ukhomeoffice/estate/internal/printers"
)

func newAuditCommand(g *globalOptions) *cobra.Command {
	auditCmd := &cobra.Command{
		Use:   "audit",
		Short: "Answer auditors' questions about the estate",
	}
	var output string
	var failOnFindings bool
	placementCmd := &cobra.Command{
		Use:   "placement",
		Short: "Count workloads by classification and tier, and list placements that break their classification",
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
			report := audit.Placement(workloads, sites)
			if err := printReport(cmd.OutOrStdout(), output, report); err != nil {
				return err
			}
			if failOnFindings && !report.Compliant() {
				return fmt.Errorf("%d placement finding(s)", len(report.Findings))
			}
			return nil
		},
	}
	addOutputFlag(placementCmd, &output)
	placementCmd.Flags().BoolVar(&failOnFindings, "fail-on-findings", false, "Exit non-zero when any placement breaks a rule.")
	auditCmd.AddCommand(placementCmd)
	return auditCmd
}

func printReport(out io.Writer, format string, r audit.PlacementReport) error {
	if format != "table" && format != "wide" {
		return printers.Print(out, format, printers.Table{}, r)
	}
	summary := printers.Table{Columns: []printers.Column{
		{Name: "Classification"}, {Name: "PublicCloud"}, {Name: "PrivateCloud"}, {Name: "OnPremises"}, {Name: "Unplaced"}, {Name: "Total"},
	}}
	for _, row := range r.Summary {
		summary.Rows = append(summary.Rows, []string{row.Classification,
			fmt.Sprint(row.PublicCloud), fmt.Sprint(row.PrivateCloud), fmt.Sprint(row.OnPremises), fmt.Sprint(row.Unplaced), fmt.Sprint(row.Total)})
	}
	if err := printers.Print(out, format, summary, nil); err != nil {
		return err
	}
	fmt.Fprintln(out)
	if r.Compliant() {
		_, err := fmt.Fprintf(out, "No findings: every placed workload of %d is on a site its classification allows, and every placement below public cloud records why.\n", len(r.Workloads))
		return err
	}
	findings := printers.Table{Columns: []printers.Column{{Name: "Workload"}, {Name: "Rule"}, {Name: "Message"}}}
	for _, f := range r.Findings {
		findings.Rows = append(findings.Rows, []string{f.Workload, string(f.Rule), f.Message})
	}
	return printers.Print(out, format, findings, nil)
}
