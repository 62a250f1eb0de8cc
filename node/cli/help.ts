/**
 * The help texts of the `fedagg` command line, one per command (`HELP.roster` covers all the
 * roster subcommands) and the overview under the empty key. The defaults they state are
 * interpolated from the values the commands apply (`roster_file.ts`, `node_dir.ts` and the
 * protocol's threshold rule), so a text cannot promise a default the command does not use.
 *
 * `--help` prints a text as is, without a trailing newline (see `mod.ts`); the usage errors of
 * `_args.ts` append the command's text to the message.
 *
 * @module
 */
import {
  defaultHararyThreshold,
  DP_PLAN_DEFAULTS,
  MAX_RELATIVE_ERROR,
} from "../../protocol/mod.ts";
import { DEFAULT_LOG_LEVEL } from "../json_log.ts";
import { DEFAULT_RETENTION } from "../journal_retention.ts";
import { DEFAULT_LISTEN } from "../node_dir.ts";
import { DEFAULT_PARAMETERS, DEFAULT_SECAGG_PLUS } from "../roster_file.ts";

// The defaults the help states are the ones the commands apply.
const defaults = DEFAULT_PARAMETERS;
const sparse = DEFAULT_SECAGG_PLUS;

/**
 * The help text of each command, keyed by its name; `""` is the overview that lists the
 * commands. A key absent here is no command: callers fall back to the overview.
 */
export const HELP: Readonly<Record<string, string>> = {
  "": `fedagg — peer-to-peer secure aggregation for federated learning

Usage: fedagg <command> [options]      (fedagg <command> --help for details)

Commands:
  init       create this node's identity and API token
  roster     create, sign, merge, verify and amend the federation's roster
  run        join the mesh and serve the local trainer API
  submit     hand the trainer's update for a round to the local node
  aggregate  download a round's aggregate from the local node
  status     show the local node's status
  verify     check a published aggregate and its final certificate offline
  dp plan    the noise and error a differential-privacy budget implies
`,
  init:
    `Usage: fedagg init --dir DIR [--name NAME] [--listen MULTIADDR]... [--announce MULTIADDR]...
                   [--json]

Creates DIR (mode 0700) with a new identity (identity.json, mode 0600) and an API token
(api.token, mode 0600), and prints this member's card (also written to DIR/card.json) for the
roster. --listen defaults to ${DEFAULT_LISTEN.join(" ")}; --announce (the addresses others dial)
defaults to the listen addresses. --name is the display name (the organisation, at most 64
characters) the card and the roster carry; members approve it with the keys and addresses.
`,
  roster: `Usage:
  fedagg roster create --out FILE [--force] --federation NAME (--dim D | --layout FILE) [options]
  fedagg roster add    --roster FILE --card CARD.json [--card ...] [--force]
  fedagg roster sign   --roster FILE --dir DIR
  fedagg roster merge  FILE FILE... --out FILE [--force] [--json]
  fedagg roster verify --roster FILE [--force] [--json]

--layout FILE is the model's tensor layout: a safetensors model (its tensors in the order of
their data, which the Python library writes in name order) or a layout.json
{"tensors": [{"name": "fc.weight", "shape": [10, 784]}, ...]} in the order to keep (PyTorch's
state_dict order). D is then the layout's size. --dim D alone is one flat tensor of D values.

create, add and verify print the quantization: scale, clipping range and the proven error bound
of the mean. They refuse parameters whose error bound exceeds ${MAX_RELATIVE_ERROR} × the clip (for
create: already for 3 members) unless --force is given.

Amendments (decided by t members of the current version instead of everyone re-signing;
running nodes adopt them without a restart, see the operator guide):
  fedagg roster propose --roster FILE [--amendment FILE]... --out FILE [--force]
                        --first-round R [--add CARD.json]... [--remove ID]...
                        [--rotate ID=CARD.json]... [--set NAME=VALUE]... [--json]
  fedagg roster sign    --roster FILE [--amendment FILE]... --proposal FILE --dir DIR [--json]
  fedagg roster status  --roster FILE [--amendment FILE]... [--json]
  fedagg roster adopt   --dir DIR --amendment FILE [--api URL] [--json]

create options:
  --mode classical|post-quantum   (default ${defaults.mode})
  --clip C                        clipping radius (default ${defaults.clip})
  --max-weight W                  largest num_samples one may claim (default ${defaults.maxWeight})
  --scale S                       quantization scale (default: the largest that cannot overflow)
  --threshold T                   global threshold, n/2 < T ≤ n (default ⌊2n/3⌋ + 1); add at
                                  least T cards in one \`roster add\`
  --graph complete|sparse         neighbour graph (default ${defaults.graph.kind})
  --degree K                      sparse graph degree (even), with
  --graph-threshold TK            its share threshold (default ⌊(K+1)/2⌋ + 1, a strict majority
                                  of the K+1 holders: ${defaultHararyThreshold(4)} for K = 4)
  or, instead of --degree, K and TK chosen per Bell et al. (sparse only) for:
  --corrupt F                     fraction of corrupt members (default ${sparse.corruptFraction})
  --dropout F                     per-round dropout fraction (default ${sparse.dropoutFraction})
  --stage-timeout MS              (default ${defaults.stageTimeoutMs})
  --advertise-timeout MS          submission deadline after the first update: 6 × the
                                  stage timeout unless given (default ${defaults.advertiseTimeoutMs})
  --view-timeout MS               3 × the stage timeout unless given (default ${defaults.viewTimeoutMs})
  --round-deadline MS             how long a member works on a round before it gives it up;
                                  unless given (n + 1) × (advertise + view timeout), n members
  --groups G | --group-size M     group-wise aggregation: each round's members are split into G
                                  groups (or groups of at least M) by a permutation nobody
                                  chooses, and each group's sum is revealed (default: one sum
                                  over everyone). Groups below 4 members are refused unless
  --allow-small-groups            is given (--group-size 1: signed plaintext, no privacy)
  --min-group-size K              fewest inputs a group sum may hold (default: the group's
                                  threshold, at least 4)
  --min-groups K                  fewest groups a round needs (default ⌈2G/3⌉)
  distributed differential privacy (any --dp-* option turns it on; see \`fedagg dp plan\`):
  --dp-epsilon E --dp-delta D     the federation's total budget (ε, δ)
  --dp-rounds R                   rounds the budget must last
  --dp-clip C                     L2 clipping radius of each whole update
  --dp-corrupt c                  members of a published sum that may withhold their noise
                                  (required: 0 trusts every survivor to add it)
  --dp-bits B                     bits of the modular sum (default 32)
  --dp-beta B, --dp-modclip-prob P  as in \`fedagg dp plan\`
                                  DP mode needs --max-weight 1: every weight is 1
  --robust RULE[,NAME=VALUE…]     publish a robust rule over the group means instead of the
                                  plain mean (needs groups): median, trimmed-mean,beta=B,
                                  multi-krum,f=F,m=M, bulyan,f=F, geomedian,iterations=I,nu=V
  --norm-filter TAU               drop group means farther than TAU × the median distance first

create refuses to replace an existing --out unless --force is given. Roster files are read
strictly: an unknown key or a value of the wrong type is refused with the key's name. The roster
hash every member signs covers the parameters and every member's keys, name and addresses.

merge combines copies of one roster (or one amendment) that members signed in parallel (a
roster's signatures are checked); it refuses copies of different rosters or amendments.

An amendment chain starts at --roster (signed by every member) and goes through the
--amendment files given (any order). propose writes version k+1 of the newest version k:
removals, rotations (ID's entry becomes the card's: new keys, or new addresses or name),
additions, then settings (--set threshold=3, scale=default, clip=2, dim=..., maxWeight=...,
stageTimeoutMs=..., advertiseTimeoutMs=..., viewTimeoutMs=..., graph=complete|harary:K:TK), in
effect from round R (after version k's first round). A threshold or scale at its default keeps
following the member count. It is valid once t members of version k approved it (roster sign
--proposal) and each joining member (or rotated key) signed it itself. A member approves at
most one successor of each version (recorded in DIR/roster-approvals/ before it signs). status
shows the versions, pending proposals, refused amendments and forks (exit 1 on a fork).
adopt hands a signed amendment to the running node of --dir (found through DIR/api.json, or at
--api): the node checks it against its chain, keeps it in DIR/amendments/ and runs the new
version from its first round, which must come after the node's current round + 2 (exit 1 when
the node refuses it; a copy still missing signatures is kept as pending). Hand it to every
member; a member that joins gets the amendment files in its DIR/amendments/ before it starts.

verify exits 0 only when the roster is valid, every member signed it and its error bound is
within ${MAX_RELATIVE_ERROR} × the clip (or --force).
`,
  run: `Usage: fedagg run --dir DIR --roster FILE [--api HOST:PORT] [--listen MULTIADDR]...
                  [--metrics HOST:PORT] [--log-level LEVEL]
                  [--keep-rounds N] [--keep-bytes SIZE] [--archive DIR]
                  [--peer-loss-grace MS]

Joins the mesh with DIR's identity (listening on the addresses given at init unless --listen
is given) and serves the trainer API (default 127.0.0.1:8421; port 0 picks a free one; the URL
is written to DIR/api.json). The roster must be signed by every member. Checks the token,
node.json, the roster and that the ports are free before joining; holds DIR/lock while it runs,
so a second run on DIR exits 2 naming the PID that holds it. Logs JSON lines to stderr. Stops
cleanly on SIGINT or SIGTERM.

  --metrics HOST:PORT   also serve GET /metrics there, without a token, for a central
                        Prometheus (off unless given; only the metrics that reveal nothing of
                        an update; the API's /metrics, behind the token, has them all)
  --log-level LEVEL     error, warn, info or debug (default ${DEFAULT_LOG_LEVEL})
  --keep-rounds N       journal retention: round directories kept (default ${DEFAULT_RETENTION.keepRounds})
  --keep-bytes SIZE     journal retention: bytes of round directories kept, e.g. 500M, 2G
                        (default ${DEFAULT_RETENTION.keepBytes / 1024 ** 3}G)
  --archive DIR         move retired rounds to DIR instead of deleting them
  --peer-loss-grace MS  how long a member's connection may be down before the protocol treats
                        it as lost (default 1000)
  Rounds not yet ended here, the newest final round and the rounds within reach of the current
  round are never retired, so the journal may stay above the limits.
`,
  submit:
    `Usage: fedagg submit --dir DIR --round R --file FILE --num-samples N [--flat] [--api URL] [--json]

Sends FILE (safetensors with the roster's tensor names and shapes, or raw little-endian float32
or .npy) as this member's update for round R, and says how many values were clipped. A raw or
.npy file for a roster whose layout has several tensors is refused unless --flat says it is the
vector in the layout's order.
`,
  aggregate:
    `Usage: fedagg aggregate --dir DIR --round R --out FILE [--format npy|raw|safetensors|sum]
                        [--plain] [--certificate FILE] [--api URL] [--json]

Downloads round R's aggregate (default: the published mean as .npy — the weighted mean, or under
a robust rule the rule's result; --plain: the plain weighted mean of the total even then; "sum"
is the exact integer body the certificate covers: with groups, the total and then each included
group's sum) and, with --certificate, its final certificate.
`,
  status: `Usage: fedagg status --dir DIR [--api URL] [--json]
`,
  verify:
    `Usage: fedagg verify --certificate FILE --roster FILE --aggregate FILE [--aggregate FILE]...
                     [--mean FILE]... [--amendment FILE]... [--json]

Checks a final certificate offline against a roster every member signed: the scheduled
leader's signature, at least t approvals of one survivor set, at least t co-signatures, and
that the certified sum (the exact integer aggregate, downloaded with --format sum) is the one
the certificate names. Every other file (--aggregate or --mean: a mean downloaded as npy, raw
or safetensors) must be exactly the float32 weighted mean that sum determines, and safetensors
must hold the roster's tensors (by name and shape). The certified sum must be among the files: a mean alone cannot
be checked against a certificate. With --amendment (the roster's amendments, any order), walks
the chain from --roster and checks the certificate under the roster version in effect at its
round. Exits 0 only if all hold.
`,
  dp:
    `Usage: fedagg dp plan --epsilon E --delta D --rounds R --clip C --members N [options] [--json]

Plans distributed differential privacy with the distributed discrete Gaussian (each member adds
discrete Gaussian noise inside secure aggregation): the central noise σ that spends ε at δ over R
rounds (zCDP, composed over rounds), each member's share σ/√(t − c), the discretization, the
expected error per coordinate, and whether the word is wide enough. Not yet applied to rounds.

options:
  --threshold T       round threshold t (default ⌊2n/3⌋ + 1)
  --corrupt C         members (< t) that may withhold their noise (default ${DP_PLAN_DEFAULTS.corrupt})
  --dim D             update dimension (default ${DP_PLAN_DEFAULTS.dim})
  --bits B            bits of the modular sum, 1..32 (default ${DP_PLAN_DEFAULTS.bits})
  --beta B            conditional rounding β in [0, 1) (default e^-1/2)
  --modclip-prob P    target wrap probability per coordinate (default ${DP_PLAN_DEFAULTS.modclipProb})
`,
};
