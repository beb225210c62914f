#include "tests/checker/linearizability.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <unordered_set>

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

// The search for one key. `blanks` are unknown writes nobody observed:
// interchangeable (each sets the register to a value nobody reads, and may
// happen any time after its invocation), so only the earliest-invoked
// unused one is ever tried -- which keeps them from multiplying the states.
KeyVerdict check_key(const std::string& key, std::vector<Operation> ops, std::vector<Operation> blanks,
                     const CheckOptions& options, std::uint64_t& steps) {
  KeyVerdict verdict;
  verdict.key = key;
  verdict.operations = ops.size() + blanks.size();
  std::vector<Operation> shown = ops;  // as recorded, for the report
  std::sort(blanks.begin(), blanks.end(),
            [](const Operation& a, const Operation& b) { return a.invoke < b.invoke; });
  const int first_blank = static_cast<int>(ops.size());
  int next_blank = first_blank;
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
  };
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
      if (event->op >= first_blank && event->op != next_blank) {
        event = event->next;  // an earlier blank stands for this one
        continue;
      }
      State next = state;
      const Operation& op = ops[static_cast<std::size_t>(event->op)];
      if (step(op, next)) {
        linearized.flip(event->op);
        if (seen.insert(Seen{linearized, next}).second) {
          placed.push_back({event, state});
          if (event->op >= first_blank) ++next_blank;
          state = std::move(next);
          lift(event);
          event = head.next;
          continue;
        }
        linearized.flip(event->op);
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
      for (const Placed& p : placed) verdict.prefix.push_back(shown[static_cast<std::size_t>(p.call->op)]);
      verdict.state_after_prefix = state;
    }
    if (placed.empty()) {
      verdict.linearizable = false;
      break;
    }
    Placed undo = placed.back();
    placed.pop_back();
    if (undo.call->op >= first_blank) --next_blank;
    state = undo.state_before;
    linearized.flip(undo.call->op);
    unlift(undo.call);
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

// The reductions described in the header: bounds the completion of each
// observed unknown write or CAS by its first observer's, and moves the
// unobserved ones out: writes to `unobserved_writes`, CASes to
// `unobserved_cas`. "Observed" is strict: any operation that reads or
// compares against the value. Values written more than once are left alone
// (an observer could not tell which write it saw).
std::vector<Operation> reduce_unknowns(std::vector<Operation> ops, std::vector<Operation>& unobserved_writes,
                                       std::vector<Operation>& unobserved_cas) {
  std::map<std::string, int> writers;
  for (const Operation& op : ops) {
    if (op.kind != OpKind::kRead && op.value) ++writers[*op.value];
  }
  std::set<std::string> referenced;
  for (const Operation& op : ops) {
    if (op.kind == OpKind::kRead && op.observed) referenced.insert(*op.observed);
    if (op.kind == OpKind::kCas && op.expected) referenced.insert(*op.expected);
  }
  std::map<std::string, std::int64_t> first_observed;  // value -> earliest completion of an observer
  for (const Operation& op : ops) {
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
    const bool unknown_write =
        op.kind != OpKind::kRead && op.outcome == Outcome::kUnknown && op.value && writers[*op.value] == 1;
    if (!unknown_write) {
      kept.push_back(std::move(op));
      continue;
    }
    if (!referenced.contains(*op.value)) {
      (op.kind == OpKind::kWrite ? unobserved_writes : unobserved_cas).push_back(std::move(op));
      continue;
    }
    auto observed = first_observed.find(*op.value);
    if (observed == first_observed.end()) {
      kept.push_back(std::move(op));  // compared against, never seen written: searched as it is
      continue;
    }
    // Took effect by then: an operation with a known deadline. (An unknown
    // CAS observed as written did swap.)
    op.outcome = Outcome::kOk;
    op.complete = std::max(op.invoke, observed->second);
    if (op.kind == OpKind::kCas) op.swapped = true;
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
    std::vector<Operation> writes, cases;
    std::vector<Operation> reduced = reduce_unknowns(std::move(ops), writes, cases);
    KeyVerdict result = check_key(key, reduced, {}, options, verdict.steps);
    if (!result.linearizable && !result.gave_up && !(writes.empty() && cases.empty())) {
      reduced.insert(reduced.end(), cases.begin(), cases.end());
      result = check_key(key, std::move(reduced), std::move(writes), options, verdict.steps);
    } else {
      result.operations += writes.size() + cases.size();
    }
    verdict.linearizable = verdict.linearizable && result.linearizable;
    verdict.complete = verdict.complete && !result.gave_up;
    verdict.keys.push_back(std::move(result));
  }
  return verdict;
}

}  // namespace raftkv::checker
