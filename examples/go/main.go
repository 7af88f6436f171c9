// A Go client of the Aegis gRPC API: evaluate one action, evaluate a batch, execute an action, and
// read its audit row back. Build it with ./build.sh (Debian packages only, GOPATH mode, the stubs
// generated from ../../proto at build time); run it against a live server:
//
//	aegis-client -addr 127.0.0.1:8000
//
// AEGIS_API_KEY, when set, is sent as the x-api-key metadata. The exit code is 0 when every call
// answered as the default policy (examples/policy.yaml) says, 1 otherwise.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	aegisv1 "github.com/aegis-governance/aegis/gen/go/aegis/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

var failures int

func check(ok bool, format string, args ...interface{}) {
	if !ok {
		failures++
		fmt.Fprintf(os.Stderr, "UNEXPECTED: "+format+"\n", args...)
	}
}

func show(label string, m proto.Message) {
	fmt.Printf("%s: %s\n", label, protojson.MarshalOptions{}.Format(m))
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8000", "host:port of the Aegis server (gRPC, cleartext h2c)")
	session := flag.String("session", fmt.Sprintf("go-client-%d", time.Now().UnixNano()), "session_id for the executed action")
	flag.Parse()

	conn, err := grpc.Dial(*addr, grpc.WithInsecure()) // Debian's grpc-go 1.33 predates credentials/insecure
	if err != nil {
		fmt.Fprintf(os.Stderr, "dial %s: %v\n", *addr, err)
		os.Exit(1)
	}
	defer conn.Close()
	client := aegisv1.NewGovernanceServiceClient(conn)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if key := os.Getenv("AEGIS_API_KEY"); key != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "x-api-key", key)
	}

	// 1. Evaluate one action (a dry run). params is a google.protobuf.Struct.
	params, err := structpb.NewStruct(map[string]interface{}{"limit": 10, "fields": []interface{}{"name", "email"}})
	if err != nil {
		panic(err)
	}
	ev, err := client.Evaluate(ctx, &aegisv1.EvaluateRequest{Action: &aegisv1.Action{
		ActionType: "read", Target: "crm", Params: params, AgentId: "go-client",
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "Evaluate: %v\n", err)
		os.Exit(1)
	}
	show("evaluate", ev)
	d := ev.GetDecision()
	check(d.GetRiskLevel() == aegisv1.RiskLevel_RISK_LEVEL_LOW && d.GetApproval() == aegisv1.Approval_APPROVAL_AUTO &&
		d.GetIsAllowed() && d.GetMatchedRule() == "read_auto", "evaluate read/crm: %v", d)

	// 2. Evaluate a batch: decisions come back in input order.
	batch, err := client.EvaluateBatch(ctx, &aegisv1.EvaluateBatchRequest{Actions: []*aegisv1.Action{
		{ActionType: "read", Target: "crm"},
		{ActionType: "write", Target: "database"},
		{ActionType: "delete", Target: "storage"},
	}})
	if err != nil {
		fmt.Fprintf(os.Stderr, "EvaluateBatch: %v\n", err)
		os.Exit(1)
	}
	show("evaluate batch", batch)
	want := []string{"read_auto", "write_approve", "delete_block"}
	check(len(batch.GetDecisions()) == len(want), "batch: %d decisions", len(batch.GetDecisions()))
	for i, dec := range batch.GetDecisions() {
		if i < len(want) {
			check(dec.GetMatchedRule() == want[i], "batch[%d]: rule %q, want %q", i, dec.GetMatchedRule(), want[i])
		}
	}
	check(len(batch.GetDecisions()) == 3 && !batch.GetDecisions()[2].GetIsAllowed(), "delete must be blocked")

	// 3. Execute: policy -> approval -> executor -> audit row (the default executor is a no-op).
	// A secret-looking param is redacted in the audit trail.
	exParams, err := structpb.NewStruct(map[string]interface{}{"limit": 5, "api_token": "s3cret"})
	if err != nil {
		panic(err)
	}
	ex, err := client.Execute(ctx, &aegisv1.ExecuteRequest{Action: &aegisv1.Action{
		ActionType: "read", Target: "crm", Params: exParams, SessionId: *session, Description: "Go client example",
	}})
	executed := false
	switch {
	case status.Code(err) == codes.Unimplemented:
		fmt.Printf("execute: the server does not implement Execute yet (%v)\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "Execute: %v\n", err)
		os.Exit(1)
	default:
		show("execute", ex)
		executed = true
		check(ex.GetResult().GetStatus() == aegisv1.ResultStatus_RESULT_STATUS_SUCCESS, "execute status %v", ex.GetResult().GetStatus())
	}

	// 4. Query the audit trail for that session.
	limit := uint32(10)
	audit, err := client.QueryAudit(ctx, &aegisv1.QueryAuditRequest{SessionId: *session, Limit: &limit})
	switch {
	case status.Code(err) == codes.Unimplemented:
		fmt.Printf("audit: the server does not implement QueryAudit yet (%v)\n", err)
	case err != nil:
		fmt.Fprintf(os.Stderr, "QueryAudit: %v\n", err)
		os.Exit(1)
	default:
		show("audit", audit)
		if executed {
			check(len(audit.GetRecords()) == 1, "audit rows for session %s: %d, want 1", *session, len(audit.GetRecords()))
			if len(audit.GetRecords()) == 1 {
				r := audit.GetRecords()[0]
				check(r.GetActionType() == "read" && r.GetResultStatus() == aegisv1.ResultStatus_RESULT_STATUS_SUCCESS,
					"audit row: %v", r)
				token := r.GetActionParams().GetFields()["api_token"].GetStringValue()
				check(token != "s3cret", "api_token is not redacted in the audit row: %v", r.GetActionParams())
				check(r.GetActionParams().GetFields()["limit"].GetNumberValue() == 5, "audit params: %v", r.GetActionParams())
			}
		}
	}

	if failures > 0 {
		fmt.Fprintf(os.Stderr, "go client: %d unexpected answer(s)\n", failures)
		os.Exit(1)
	}
	fmt.Println("go client: ok")
}
