package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/types"

	estatev1 "github.com/ukhomeoffice/estate/crds/v1alpha1"
	"github.com/ukhomeoffice/estate/internal/printers"
)

func newExplainCommand(g *globalOptions) *cobra.Command {
	explain := &cobra.Command{
		Use:   "explain",
		Short: "Explain a placement decision",
	}
	var (
		namespace string
		paths     []string
		output    string
	)
	workload := &cobra.Command{
		Use:   "workload NAME",
		Short: "Show every site's outcome, reason and score for one workload",
		Long: `explain workload shows the recorded placement decision of a workload: the
chosen site and, for every site considered, whether it was eligible, the
reason code, one sentence and the score. With -f it places the manifests
offline first, as plan does.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var w *estatev1.Workload
			var err error
			if len(paths) > 0 {
				w, err = plannedWorkload(paths, namespace, args[0])
			} else {
				w, err = liveWorkload(cmd, g, namespace, args[0])
			}
			if err != nil {
				return err
			}
			if w.Status.Placement == nil {
				return fmt.Errorf("workload %s/%s has no placement decision yet; the placement operator records one within seconds of creation", w.Namespace, w.Name)
			}
			if output == "table" || output == "wide" {
				writeExplainHeader(cmd.OutOrStdout(), w)
			}
			return printers.Print(cmd.OutOrStdout(), output, outcomeTable(w.Status.Placement), w.Status.Placement)
		},
	}
	workload.Flags().StringVarP(&namespace, "namespace", "n", "", "Namespace of the workload; may be omitted when the name is unique.")
	workload.Flags().StringArrayVarP(&paths, "filename", "f", nil, "Place these manifests offline and explain from them instead of the server; repeat to combine several.")
	addOutputFlag(workload, &output)
	explain.AddCommand(workload)
	return explain
}

func liveWorkload(cmd *cobra.Command, g *globalOptions, namespace, name string) (*estatev1.Workload, error) {
	c, err := g.client()
	if err != nil {
		return nil, err
	}
	if namespace != "" {
		w := &estatev1.Workload{}
		if err := c.Get(cmd.Context(), types.NamespacedName{Namespace: namespace, Name: name}, w); err != nil {
			return nil, fmt.Errorf("getting workload %s/%s: %w", namespace, name, err)
		}
		return w, nil
	}
	workloads, err := listWorkloads(cmd.Context(), c)
	if err != nil {
		return nil, err
	}
	return pickWorkload(workloads, name)
}

func plannedWorkload(paths []string, namespace, name string) (*estatev1.Workload, error) {
	set, err := loadManifests(paths)
	if err != nil {
		return nil, err
	}
	workloads, err := planWorkloads(set, time.Now())
	if err != nil {
		return nil, err
	}
	if namespace != "" {
		for i := range workloads {
			if workloads[i].Namespace == namespace && workloads[i].Name == name {
				return &workloads[i], nil
			}
		}
		return nil, fmt.Errorf("workload %s/%s not found in %s", namespace, name, strings.Join(paths, ", "))
	}
	return pickWorkload(workloads, name)
}

// pickWorkload finds a workload by name across namespaces. An ambiguous
// name returns an error that lists the namespaces and suggests --namespace.
func pickWorkload(workloads []estatev1.Workload, name string) (*estatev1.Workload, error) {
	var found []*estatev1.Workload
	for i := range workloads {
		if workloads[i].Name == name {
			found = append(found, &workloads[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("workload %q not found in any namespace", name)
	case 1:
		return found[0], nil
	}
	namespaces := make([]string, 0, len(found))
	for _, w := range found {
		namespaces = append(namespaces, w.Namespace)
	}
	return nil, fmt.Errorf("workload %q exists in namespaces %s: choose one with --namespace", name, strings.Join(namespaces, ", "))
}

func writeExplainHeader(out io.Writer, w *estatev1.Workload) {
	p := w.Status.Placement
	site := p.Site
	if site == "" {
		site = "<none>"
	}
	fmt.Fprintf(out, "Workload:        %s/%s\n", w.Namespace, w.Name)
	fmt.Fprintf(out, "Classification:  %s\n", w.Spec.Classification)
	fmt.Fprintf(out, "Site:            %s (%s)\n", site, p.Tier)
	fmt.Fprintf(out, "Decision:        %s\n", p.Reason)
	fmt.Fprintf(out, "Message:         %s\n\n", p.Message)
}

func outcomeTable(p *estatev1.Placement) printers.Table {
	t := printers.Table{Columns: []printers.Column{
		{Name: "Site"}, {Name: "Tier"}, {Name: "Eligible"}, {Name: "Reason"},
		{Name: "Score"}, {Name: "Tier+Cost+Headroom", Wide: true}, {Name: "Message"},
	}}
	for _, o := range p.Sites {
		score, breakdown := "-", "-"
		if o.Score != nil {
			score = strconv.Itoa(int(o.Score.Total))
			breakdown = fmt.Sprintf("%d+%d+%d", o.Score.Tier, o.Score.Cost, o.Score.Headroom)
		}
		mark := "no"
		if o.Eligible {
			mark = "yes"
		}
		if o.Site == p.Site {
			mark += " (chosen)"
		}
		t.Rows = append(t.Rows, []string{o.Site, string(o.Tier), mark, o.Reason, score, breakdown, o.Message})
	}
	return t
}
