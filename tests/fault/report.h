#pragma once
// What a run leaves in its results folder, for a person to read:
//
//   seed.txt        the seed, the options, and the command that replays it
//   verdict.txt     the summary and every violation, with the checker's
//                   explanation (culprit operation, longest valid prefix)
//   history.txt     every operation, by invocation (checker::describe)
//   faults.txt      the nemesis's timeline
//   timeline.html   the offending keys' operations as bars on a time axis,
//                   one row per client, faults shaded behind them
//   nodes/m<i>.log  every member's log, all its restarts appended
//                   (written by the members themselves)

#include "tests/fault/run.h"

namespace raftkv::fault {

void write_report(const RunRecord& record);

}  // namespace raftkv::fault
