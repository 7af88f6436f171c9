#!/usr/bin/env node
// The `aegis` command: one module per sub-command, each exporting `run(args) => exit code`.
import { readVersion } from "../version.js";

const USAGE = `Usage: aegis <command> [options]

Commands:
  serve [POLICY] [--host H] [--port P]   run the server
  validate POLICY                         check a policy file and list its rules
  test POLICY TESTS.yaml [--junit FILE]   run policy test cases (exit 1 on a failure)
  diff FROM.yaml TO.yaml [--exit-code]    what changes between two policies
  validate-keys FILE                      check a keys file (AEGIS_KEYS_FILE) and list its principals
  keygen --name N --role R [--agent-id G] print a new key and its keys-file entry
  init [-o FILE]                          write a commented starter policy
  healthcheck [--url URL]                 exit 0 when the server answers /health

Options:
  --version   print the version
  --help      print this help
`;

type Command = (args: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  serve: async () => (await import("./serve.js")).run,
  validate: async () => (await import("./validate.js")).run,
  test: async () => (await import("./test.js")).run,
  diff: async () => (await import("./diff.js")).run,
  "validate-keys": async () => (await import("./validate-keys.js")).run,
  keygen: async () => (await import("./keygen.js")).run,
  init: async () => (await import("./init.js")).run,
  healthcheck: async () => (await import("./healthcheck.js")).run,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    process.stdout.write(`${readVersion()}\n`);
    return 0;
  }
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    process.stdout.write(USAGE);
    return name === undefined ? 1 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`aegis: unknown command "${name}"\n\n${USAGE}`);
    return 1;
  }
  return (await load())(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`aegis: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
