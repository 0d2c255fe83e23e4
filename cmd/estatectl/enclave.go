package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/enclave"
	"github.com/ukhomeoffice/estate/internal/printers"
)

func newEnclaveCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "enclave",
		Short: "Inspect the shared Tier 2 enclave",
	}
	var output string
	show := &cobra.Command{
		Use:   "show [NAME]",
		Short: "List each enclave's tenants, sites, gateway and controls with their verified state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			summaries, err := enclaveSummaries(cmd.Context(), c, args)
			if err != nil {
				return err
			}
			if output != "table" && output != "wide" {
				return printers.Print(cmd.OutOrStdout(), output, printers.Table{}, summaries)
			}
			return writeEnclaves(cmd.OutOrStdout(), summaries)
		},
	}
	addOutputFlag(show, &output)
	cmd.AddCommand(show)
	return cmd
}

func enclaveSummaries(ctx context.Context, c client.Reader, names []string) ([]enclave.EnclaveSummary, error) {
	list := &estatev1.EnclaveList{}
	if err := c.List(ctx, list); err != nil {
		return nil, fmt.Errorf("listing enclaves: %w", err)
	}
	var out []enclave.EnclaveSummary
	for i := range list.Items {
		if len(names) > 0 && list.Items[i].Name != names[0] {
			continue
		}
		out = append(out, enclave.Summary(&list.Items[i]))
	}
	if len(out) == 0 {
		if len(names) > 0 {
			return nil, fmt.Errorf("enclave %q not found", names[0])
		}
		return nil, fmt.Errorf("no Enclave found: apply one, for example examples/estate/enclave.yaml")
	}
	return out, nil
}

func writeEnclaves(out io.Writer, summaries []enclave.EnclaveSummary) error {
	for i, s := range summaries {
		if i > 0 {
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "Enclave:  %s (zone %s)\nSites:    %s\nGateway:  %s", s.Name, s.Zone, strings.Join(s.Sites, ", "), s.Gateway.Name)
		if len(s.Gateway.Flows) > 0 {
			fmt.Fprintf(out, " passing %s", strings.Join(s.Gateway.Flows, "; "))
		}
		fmt.Fprintf(out, "\nReady:    %s (%s)\n\n", s.Ready.Status, s.Ready.Reason)
		if err := printers.Print(out, "table", s.TenantsTable(), nil); err != nil {
			return err
		}
		fmt.Fprintln(out)
		if err := printers.Print(out, "table", s.ControlsTable(), nil); err != nil {
			return err
		}
	}
	return nil
}
