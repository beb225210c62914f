#include "tests/checker/linearizability.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

#include "tests/checker/register_zones.h"

namespace raftkv::checker {

namespace {

using State = std::optional<std::string>;  // nullopt: the key is absent

// The register's rule for one operation: whether it can happen in `state`,
// and the state after it.
bool step(const Operation& op, State& state) {
  switch (op.kind) {
    case OpKind::kRead: return state == op.observed;
    case OpKind::kWrite: state = op.value; return true;
    case OpKind::kCas:
      if (op.outcome == Outcome::kUnknown) {
        // Took effect as whatever the compare gave at that moment.
        if (state == op.expected) state = op.value;
        return true;
      }
      if (op.swapped) {
        if (state != op.expected) return false;
        state = op.value;
        return true;
      }
      return state != op.expected;
  }
  return false;
}

// A doubly linked list of call and return events in time order; lifting an
// operation takes out both its events, unlifting puts them back.
struct Event {
  int op = -1;  // index into the key's operations
  std::int64_t time = 0;
  bool is_call = true;
  Event* match = nullptr;  // call <-> return
  Event* prev = nullptr;
  Event* next = nullptr;
};

void lift(Event* call) {
  call->prev->next = call->next;
  call->next->prev = call->prev;
  Event* ret = call->match;
  ret->prev->next = ret->next;
  if (ret->next != nullptr) ret->next->prev = ret->prev;
}

void unlift(Event* call) {
  Event* ret = call->match;
  ret->prev->next = ret;
  if (ret->next != nullptr) ret->next->prev = ret;
  call->prev->next = call;
  call->next->prev = call;
}

// Of the blank calls that could be linearized next (those before the first
// return in the list), the one whose return comes first.
Event* earliest_deadline_blank(Event& head, int first_blank) {
  Event* best = nullptr;
  for (Event* event = head.next; event != nullptr && event->is_call; event = event->next) {
    if (event->op < first_blank) continue;
    if (best == nullptr || event->match->time < best->match->time) best = event;
  }
  return best;
}

struct Bits {
  std::vector<std::uint64_t> words;
  void flip(int i) { words[static_cast<std::size_t>(i) / 64] ^= std::uint64_t{1} << (i % 64); }
  bool operator==(const Bits&) const = default;
};

struct Seen {
  Bits linearized;
  State state;
  bool operator==(const Seen&) const = default;
};

struct SeenHash {
  std::size_t operator()(const Seen& seen) const {
    std::size_t hash = seen.state ? std::hash<std::string>{}(*seen.state) : 0x9e3779b97f4a7c15ull;
    for (const std::uint64_t word : seen.linearized.words)
      hash = hash * 1099511628211ull ^ std::hash<std::uint64_t>{}(word);
    return hash;
  }
};

// The search for one key. `blanks` are writes whose value nobody reads or
// compares against: each sets the register to a value that matters only as
// "not what anyone expects", so they are interchangeable but for their
// deadlines. Among the blanks that could go next, only the one with the
// earliest deadline is tried (a linearization placing another there can
// swap the two) -- which keeps them from multiplying the states.
KeyVerdict check_key(const std::string& key, std::vector<Operation> ops, std::vector<Operation> blanks,
                     const CheckOptions& options, std::uint64_t& steps) {
  KeyVerdict verdict;
  verdict.key = key;
  verdict.operations = ops.size() + blanks.size();
  std::vector<Operation> shown = ops;  // as recorded, for the report
  const int first_blank = static_cast<int>(ops.size());
  for (Operation& blank : blanks) {
    shown.push_back(blank);
    blank.value = std::string("\0a value nobody read", 20);
    ops.push_back(std::move(blank));
  }
  const int n = static_cast<int>(ops.size());
  constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

  // Events in time order; at equal times calls first, so that operations
  // that touch at an instant count as concurrent.
  std::vector<Event> events(2 * static_cast<std::size_t>(n));
  std::vector<std::tuple<std::int64_t, int, int>> order;  // time, return?, op
  for (int i = 0; i < n; ++i) {
    const std::int64_t complete = ops[static_cast<std::size_t>(i)].outcome == Outcome::kUnknown
                                      ? kNever
                                      : ops[static_cast<std::size_t>(i)].complete;
    order.emplace_back(ops[static_cast<std::size_t>(i)].invoke, 0, i);
    order.emplace_back(complete, 1, i);
  }
  std::sort(order.begin(), order.end());
  Event head;
  Event* last = &head;
  std::vector<Event*> call_of(static_cast<std::size_t>(n)), return_of(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < order.size(); ++i) {
    const auto& [time, is_return, op] = order[i];
    Event* event = &events[i];
    event->op = op;
    event->time = time;
    event->is_call = is_return == 0;
    (event->is_call ? call_of : return_of)[static_cast<std::size_t>(op)] = event;
    event->prev = last;
    last->next = event;
    last = event;
  }
  for (int i = 0; i < n; ++i) {
    call_of[static_cast<std::size_t>(i)]->match = return_of[static_cast<std::size_t>(i)];
    return_of[static_cast<std::size_t>(i)]->match = call_of[static_cast<std::size_t>(i)];
  }

  struct Placed {
    Event* call;
    State state_before;
    std::vector<Event*> absorbed;  // blanks placed just before it, in order
  };
  // Without CASes on the key, the register's value matters only to reads,
  // which can never see a blank's value: a blank is as well placed right
  // before the next write (which overwrites it) as anywhere, so each write
  // takes every blank that could go with it. (A CAS whose compare failed
  // could need a blank's value to fail against, so then they are not.)
  const bool absorb =
      std::none_of(ops.begin(), ops.end(), [](const Operation& op) { return op.kind == OpKind::kCas; });
  std::vector<Placed> placed;
  std::unordered_set<Seen, SeenHash> seen;
  Bits linearized{std::vector<std::uint64_t>((static_cast<std::size_t>(n) + 63) / 64, 0)};
  State state;
  std::size_t best_depth = 0;
  bool recorded = false;
  std::uint64_t key_steps = 0;

  Event* event = head.next;
  while (head.next != nullptr) {
    if (++key_steps > options.max_steps_per_key) {
      verdict.gave_up = true;
      verdict.linearizable = false;  // not proven
      break;
    }
    if (event->is_call) {
      if (event->op >= first_blank && event != earliest_deadline_blank(head, first_blank)) {
        event = event->next;  // another blank stands for this one
        continue;
      }
      State next = state;
      const Operation& op = ops[static_cast<std::size_t>(event->op)];
      if (step(op, next)) {
        std::vector<Event*> absorbed;
        if (absorb && op.kind == OpKind::kWrite && event->op < first_blank) {
          for (Event* other = head.next; other != nullptr && other->is_call; other = other->next) {
            if (other->op >= first_blank) absorbed.push_back(other);
          }
        }
        linearized.flip(event->op);
        for (Event* blank : absorbed) linearized.flip(blank->op);
        if (seen.insert(Seen{linearized, next}).second) {
          for (Event* blank : absorbed) lift(blank);
          placed.push_back({event, state, std::move(absorbed)});
          state = std::move(next);
          lift(event);
          event = head.next;
          continue;
        }
        linearized.flip(event->op);
        for (Event* blank : absorbed) linearized.flip(blank->op);
      }
      event = event->next;
      continue;
    }
    // A return: its operation had to be placed by now, and none of the
    // calls before it could be. Note the deepest such dead end, then undo
    // the last placement and try the next candidate after it.
    if (!recorded || placed.size() > best_depth) {
      recorded = true;
      best_depth = placed.size();
      verdict.culprit = shown[static_cast<std::size_t>(event->op)];
      verdict.prefix.clear();
      for (const Placed& p : placed) {
        for (const Event* blank : p.absorbed)
          verdict.prefix.push_back(shown[static_cast<std::size_t>(blank->op)]);
        verdict.prefix.push_back(shown[static_cast<std::size_t>(p.call->op)]);
      }
      verdict.state_after_prefix = state;
    }
    if (placed.empty()) {
      verdict.linearizable = false;
      break;
    }
    Placed undo = std::move(placed.back());
    placed.pop_back();
    state = undo.state_before;
    linearized.flip(undo.call->op);
    unlift(undo.call);
    for (auto blank = undo.absorbed.rbegin(); blank != undo.absorbed.rend(); ++blank) {
      linearized.flip((*blank)->op);
      unlift(*blank);
    }
    event = undo.call->next;
  }
  steps += key_steps;
  if (verdict.linearizable) {
    verdict.culprit.reset();
    verdict.prefix.clear();
    verdict.state_after_prefix.reset();
  }
  return verdict;
}

// The reductions described in the header, and the blanks. Sorts `ops` into
// what is searched as recorded (returned), writes whose value nobody reads
// or compares against (`blanks`: definite ones, searched always;
// `unknown_blanks`: unknown ones, searched only if needed), and unknown
// CASes whose value nobody references (`unknown_cas`, likewise). Values
// written more than once are left alone (an observer could not tell which
// write it saw).
std::vector<Operation> sort_operations(std::vector<Operation> ops, std::vector<Operation>& blanks,
                                       std::vector<Operation>& unknown_blanks,
                                       std::vector<Operation>& unknown_cas) {
  std::map<std::string, int> writers;
  std::set<std::string> referenced;
  std::map<std::string, std::int64_t> first_observed;  // value -> earliest completion of an observer
  for (const Operation& op : ops) {
    if (op.kind != OpKind::kRead && op.value) ++writers[*op.value];
    if (op.kind == OpKind::kRead && op.observed) referenced.insert(*op.observed);
    if (op.kind == OpKind::kCas && op.expected) referenced.insert(*op.expected);
    if (op.outcome != Outcome::kOk) continue;
    const State* seen = op.kind == OpKind::kRead                ? &op.observed
                        : op.kind == OpKind::kCas && op.swapped ? &op.expected
                                                                : nullptr;
    if (seen == nullptr || !*seen) continue;
    auto [at, inserted] = first_observed.emplace(**seen, op.complete);
    if (!inserted) at->second = std::min(at->second, op.complete);
  }
  std::vector<Operation> kept;
  for (Operation& op : ops) {
    const bool unique_write = op.kind != OpKind::kRead && op.value && writers[*op.value] == 1;
    if (!unique_write) {
      kept.push_back(std::move(op));
      continue;
    }
    const bool unknown = op.outcome == Outcome::kUnknown;
    if (!referenced.contains(*op.value)) {
      if (op.kind == OpKind::kWrite) {
        (unknown ? unknown_blanks : blanks).push_back(std::move(op));
      } else if (unknown) {
        unknown_cas.push_back(std::move(op));
      } else {
        kept.push_back(std::move(op));
      }
      continue;
    }
    auto observed = first_observed.find(*op.value);
    if (observed != first_observed.end()) {
      // Took effect before its first observer completed: its deadline is
      // no later than that. (An unknown CAS observed as written swapped.)
      const std::int64_t deadline = std::max(op.invoke, observed->second);
      op.complete = unknown ? deadline : std::min(op.complete, deadline);
      if (unknown && op.kind == OpKind::kCas) op.swapped = true;
      op.outcome = Outcome::kOk;
    }
    kept.push_back(std::move(op));
  }
  return kept;
}

std::string quoted(const State& value) {
  return value ? "\"" + *value + "\"" : "(absent)";
}

}  // namespace

std::string describe(const Operation& op) {
  std::ostringstream text;
  text << "#" << op.id << " c" << op.client << " [" << op.invoke << ",";
  if (op.outcome == Outcome::kUnknown) {
    text << "?";
  } else {
    text << op.complete;
  }
  text << "] ";
  switch (op.kind) {
    case OpKind::kRead: text << "read(" << op.key << ")"; break;
    case OpKind::kWrite: text << "write(" << op.key << ", " << quoted(op.value) << ")"; break;
    case OpKind::kCas:
      text << "cas(" << op.key << ", " << quoted(op.expected) << " -> " << quoted(op.value) << ")";
      break;
  }
  switch (op.outcome) {
    case Outcome::kFailed: text << " failed"; break;
    case Outcome::kUnknown: text << " unknown"; break;
    case Outcome::kOk:
      text << " ok";
      if (op.kind == OpKind::kRead) text << " " << quoted(op.observed);
      if (op.kind == OpKind::kCas) text << (op.swapped ? " swapped" : " compare failed");
      break;
  }
  return text.str();
}

std::string Verdict::explain() const {
  std::ostringstream text;
  for (const KeyVerdict& key : keys) {
    if (key.gave_up) {
      text << "key " << key.key << ": gave up after the step budget (" << key.operations
           << " operations): no verdict\n";
      continue;
    }
    if (key.linearizable) continue;
    text << "key " << key.key << ": not linearizable (" << key.operations << " operations)\n";
    text << "  no order explains " << (key.culprit ? describe(*key.culprit) : "?") << "\n";
    if (!key.reason.empty()) {
      text << "  " << key.reason << "\n";
      continue;
    }
    text << "  after the longest explainable prefix (" << key.prefix.size() << " operations) the value is "
         << quoted(key.state_after_prefix) << "; its last operations:\n";
    const std::size_t from = key.prefix.size() > 10 ? key.prefix.size() - 10 : 0;
    for (std::size_t i = from; i < key.prefix.size(); ++i) text << "    " << describe(key.prefix[i]) << "\n";
  }
  return text.str();
}

Verdict check_linearizable(const History& history, const CheckOptions& options) {
  std::map<std::string, std::vector<Operation>> by_key;
  for (const Operation& op : history) {
    if (op.outcome == Outcome::kFailed) continue;                               // never took effect
    if (op.kind == OpKind::kRead && op.outcome == Outcome::kUnknown) continue;  // observed nothing
    by_key[op.key].push_back(op);
  }
  Verdict verdict;
  for (auto& [key, ops] : by_key) {
    const bool any_cas =
        std::any_of(ops.begin(), ops.end(), [](const Operation& op) { return op.kind == OpKind::kCas; });
    std::set<std::string> values;
    const bool unique_values = std::all_of(ops.begin(), ops.end(), [&](const Operation& op) {
      return op.kind == OpKind::kRead || values.insert(*op.value).second;
    });
    if (!options.reduce) {
      KeyVerdict result = check_key(key, std::move(ops), {}, options, verdict.steps);
      verdict.linearizable = verdict.linearizable && result.linearizable;
      verdict.complete = verdict.complete && !result.gave_up;
      verdict.keys.push_back(std::move(result));
      continue;
    }
    std::vector<Operation> blanks, unknown_blanks, unknown_cas;
    std::vector<Operation> kept = sort_operations(std::move(ops), blanks, unknown_blanks, unknown_cas);
    if (options.use_zones && !any_cas && unique_values) {
      // Unknown writes nobody read can be left out exactly here: with no
      // CAS, nothing could depend on them.
      KeyVerdict result;
      result.key = key;
      result.operations = kept.size() + blanks.size() + unknown_blanks.size();
      kept.insert(kept.end(), blanks.begin(), blanks.end());
      if (std::optional<ZoneViolation> violation = find_zone_violation(kept)) {
        result.linearizable = false;
        result.culprit = violation->culprit;
        result.reason = violation->reason;
      }
      verdict.steps += kept.size();
      verdict.linearizable = verdict.linearizable && result.linearizable;
      verdict.keys.push_back(std::move(result));
      continue;
    }
    KeyVerdict result = check_key(key, kept, blanks, options, verdict.steps);
    if (!result.linearizable && !result.gave_up && !(unknown_blanks.empty() && unknown_cas.empty())) {
      kept.insert(kept.end(), unknown_cas.begin(), unknown_cas.end());
      blanks.insert(blanks.end(), unknown_blanks.begin(), unknown_blanks.end());
      result = check_key(key, std::move(kept), std::move(blanks), options, verdict.steps);
    } else {
      result.operations += unknown_blanks.size() + unknown_cas.size();
    }
    verdict.linearizable = verdict.linearizable && result.linearizable;
    verdict.complete = verdict.complete && !result.gave_up;
    verdict.keys.push_back(std::move(result));
  }
  return verdict;
}

}  // namespace raftkv::checker
