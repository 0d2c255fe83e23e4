package printers

import (
	"bytes"
	"strings"
	"testing"
)

func TestPrintFormats(t *testing.T) {
	table := Table{
		Columns: []Column{{Name: "Name"}, {Name: "Site"}, {Name: "Message", Wide: true}},
		Rows:    [][]string{{"warnings-index", "aws-london", "chosen"}, {"pnc", "", "none"}},
	}
	data := map[string]string{"name": "warnings-index"}
	cases := map[string]struct {
		format string
		want   string
	}{
		"table hides wide columns and fills empty cells": {
			format: "table",
			want:   "NAME             SITE\nwarnings-index   aws-london\npnc              <none>\n",
		},
		"wide shows every column": {
			format: "wide",
			want:   "NAME             SITE         MESSAGE\nwarnings-index   aws-london   chosen\npnc              <none>       none\n",
		},
		"json prints the data": {format: "json", want: "{\n    \"name\": \"warnings-index\"\n}\n"},
		"yaml prints the data": {format: "yaml", want: "name: warnings-index\n"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Print(&out, tc.format, table, data); err != nil {
				t.Fatalf("Print: %v", err)
			}
			if out.String() != tc.want {
				t.Errorf("output:\n%s\nwant:\n%s", out.String(), tc.want)
			}
		})
	}
}

func TestPrintRejectsUnknownFormat(t *testing.T) {
	err := Print(&bytes.Buffer{}, "xml", Table{}, nil)
	if err == nil {
		t.Fatal("Print accepted format xml")
	}
	if !strings.Contains(err.Error(), "table, wide, json, yaml") {
		t.Errorf("error %q does not list the accepted formats", err)
	}
}
