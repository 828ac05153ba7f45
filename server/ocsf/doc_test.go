package ocsf_test

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/stigaudit/stigaudit/server/ocsf"
)

// renderTable renders Table as the markdown table of
// docs/operations.md#ocsf-mapping.
func renderTable(s *schema) string {
	var b strings.Builder
	b.WriteString("| event_type | class | activity | type_uid | severity_id | status | entity |\n|---|---|---|---|---|---|---|\n")
	caption := map[int]string{ocsf.ClassAPIActivity: "API Activity", ocsf.ClassEntityManagement: "Entity Management", ocsf.ClassAuthentication: "Authentication"}
	for _, m := range append(ocsf.Table, ocsf.Default) {
		name := "`" + m.EventType + "`"
		if m.EventType == "" {
			name = "any operator type"
		}
		status := "from outcome"
		if m.Failure {
			status = "always Failure"
		}
		entity := ""
		if m.Entity != "" {
			entity = "`" + m.Entity + "`"
			if m.EntityKey != "" {
				entity += ", uid `detail." + m.EntityKey + "`"
			}
		}
		fmt.Fprintf(&b, "| %s | %s %d | %s %d | %d | %d | %s | %s |\n", name, caption[m.ClassUID], m.ClassUID,
			s.activityCaption(m.ClassUID, m.ActivityID), m.ActivityID, m.TypeUID(), m.SeverityID, status, entity)
	}
	return b.String()
}

// TestDocTable: docs/operations.md holds the rendered Table. Regenerate
// it with STIGAUDIT_PRINT_OCSF_TABLE=1 go test -run TestDocTable ./server/ocsf.
func TestDocTable(t *testing.T) {
	want := renderTable(loadSchema(t))
	if os.Getenv("STIGAUDIT_PRINT_OCSF_TABLE") != "" {
		fmt.Print(want)
	}
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), want) {
		t.Fatalf("docs/operations.md does not hold the rendered mapping table; regenerate it (see the test's doc)")
	}
}
