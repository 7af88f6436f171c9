// A Java client of the Aegis gRPC API: evaluate one action, evaluate a batch, execute an action, and
// read its audit row back. Build and run it with ./build.sh and ./run.sh (Debian packages only: the
// stubs are generated from ../../proto with Debian's grpc-java plugin at build time):
//
//   examples/java/build.sh OUT_DIR && examples/java/run.sh OUT_DIR 127.0.0.1:8000
//
// AEGIS_API_KEY, when set, is sent as the x-api-key metadata. The exit code is 0 when every call
// answered as the default policy (examples/policy.yaml) says, 1 otherwise.
package dev.aegis.example;

import com.google.protobuf.MessageOrBuilder;
import com.google.protobuf.Struct;
import com.google.protobuf.TextFormat;
import com.google.protobuf.Value;
import dev.aegis.api.v1.Action;
import dev.aegis.api.v1.Approval;
import dev.aegis.api.v1.AuditRecord;
import dev.aegis.api.v1.Decision;
import dev.aegis.api.v1.EvaluateBatchRequest;
import dev.aegis.api.v1.EvaluateBatchResponse;
import dev.aegis.api.v1.EvaluateRequest;
import dev.aegis.api.v1.EvaluateResponse;
import dev.aegis.api.v1.ExecuteRequest;
import dev.aegis.api.v1.ExecuteResponse;
import dev.aegis.api.v1.GovernanceServiceGrpc;
import dev.aegis.api.v1.QueryAuditRequest;
import dev.aegis.api.v1.QueryAuditResponse;
import dev.aegis.api.v1.ResultStatus;
import dev.aegis.api.v1.RiskLevel;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Metadata;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.MetadataUtils;
import java.util.List;
import java.util.concurrent.TimeUnit;

public final class AegisClient {
  private static int failures = 0;

  private static void check(boolean ok, String what) {
    if (!ok) {
      failures++;
      System.err.println("UNEXPECTED: " + what);
    }
  }

  private static void show(String label, MessageOrBuilder message) {
    System.out.println(label + ": " + TextFormat.printer().shortDebugString(message));
  }

  public static void main(String[] args) throws Exception {
    String target = args.length > 0 ? args[0] : "127.0.0.1:8000";
    String session = args.length > 1 ? args[1] : "java-client-" + System.nanoTime();
    ManagedChannel channel = ManagedChannelBuilder.forTarget(target).usePlaintext().build();
    try {
      GovernanceServiceGrpc.GovernanceServiceBlockingStub stub =
          GovernanceServiceGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS);
      String key = System.getenv("AEGIS_API_KEY");
      if (key != null && !key.isEmpty()) {
        Metadata headers = new Metadata();
        headers.put(Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER), key);
        stub = stub.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(headers));
      }

      // 1. Evaluate one action (a dry run). params is a google.protobuf.Struct.
      Struct params =
          Struct.newBuilder().putFields("limit", Value.newBuilder().setNumberValue(10).build()).build();
      EvaluateResponse ev =
          stub.evaluate(
              EvaluateRequest.newBuilder()
                  .setAction(
                      Action.newBuilder()
                          .setActionType("read")
                          .setTarget("crm")
                          .setParams(params)
                          .setAgentId("java-client"))
                  .build());
      show("evaluate", ev);
      Decision d = ev.getDecision();
      check(
          d.getRiskLevel() == RiskLevel.RISK_LEVEL_LOW
              && d.getApproval() == Approval.APPROVAL_AUTO
              && d.getIsAllowed()
              && d.getMatchedRule().equals("read_auto"),
          "evaluate read/crm: " + d);

      // 2. Evaluate a batch: decisions come back in input order.
      EvaluateBatchResponse batch =
          stub.evaluateBatch(
              EvaluateBatchRequest.newBuilder()
                  .addActions(Action.newBuilder().setActionType("read").setTarget("crm"))
                  .addActions(Action.newBuilder().setActionType("write").setTarget("database"))
                  .addActions(Action.newBuilder().setActionType("delete").setTarget("storage"))
                  .build());
      show("evaluate batch", batch);
      List<String> want = List.of("read_auto", "write_approve", "delete_block");
      check(batch.getDecisionsCount() == want.size(), "batch: " + batch.getDecisionsCount() + " decisions");
      for (int i = 0; i < Math.min(want.size(), batch.getDecisionsCount()); i++) {
        check(
            batch.getDecisions(i).getMatchedRule().equals(want.get(i)),
            "batch[" + i + "]: " + batch.getDecisions(i).getMatchedRule());
      }

      // 3. Execute: policy -> approval -> executor -> audit row (the default executor is a no-op).
      boolean executed = false;
      try {
        ExecuteResponse ex =
            stub.execute(
                ExecuteRequest.newBuilder()
                    .setAction(
                        Action.newBuilder()
                            .setActionType("read")
                            .setTarget("crm")
                            .setSessionId(session)
                            .setDescription("Java client example"))
                    .build());
        show("execute", ex);
        executed = true;
        check(
            ex.getResult().getStatus() == ResultStatus.RESULT_STATUS_SUCCESS,
            "execute status " + ex.getResult().getStatus());
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) throw e;
        System.out.println("execute: the server does not implement Execute yet (" + e.getStatus() + ")");
      }

      // 4. Query the audit trail for that session.
      try {
        QueryAuditResponse audit =
            stub.queryAudit(QueryAuditRequest.newBuilder().setSessionId(session).setLimit(10).build());
        show("audit", audit);
        if (executed) {
          check(audit.getRecordsCount() == 1, "audit rows for " + session + ": " + audit.getRecordsCount());
          if (audit.getRecordsCount() == 1) {
            AuditRecord r = audit.getRecords(0);
            check(
                r.getActionType().equals("read")
                    && r.getResultStatus() == ResultStatus.RESULT_STATUS_SUCCESS,
                "audit row: " + r);
          }
        }
      } catch (StatusRuntimeException e) {
        if (e.getStatus().getCode() != Status.Code.UNIMPLEMENTED) throw e;
        System.out.println("audit: the server does not implement QueryAudit yet (" + e.getStatus() + ")");
      }
    } catch (StatusRuntimeException e) {
      System.err.println("RPC failed: " + e.getStatus());
      failures++;
    } finally {
      channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
    }
    if (failures > 0) {
      System.err.println("java client: " + failures + " unexpected answer(s)");
      System.exit(1);
    }
    System.out.println("java client: ok");
  }
}
