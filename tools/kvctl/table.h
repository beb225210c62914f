#pragma once
// The rows kvctl prints for commands about members and endpoints: aligned
// columns under a header (-w simple, what scripts read with awk), or boxed
// as etcdctl's -w table draws them.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

namespace kvctl {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  void add(std::vector<std::string> row) {
    row.resize(header_.size());
    rows_.push_back(std::move(row));
  }

  void print(bool boxed) const {
    std::vector<std::size_t> widths(header_.size());
    for (std::size_t i = 0; i < header_.size(); ++i) widths[i] = header_[i].size();
    for (const auto& row : rows_) {
      for (std::size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
    }
    if (boxed) {
      std::string rule = "+";
      for (const std::size_t width : widths) rule += std::string(width + 2, '-') + "+";
      std::printf("%s\n", rule.c_str());
      print_row(header_, widths, true);
      std::printf("%s\n", rule.c_str());
      for (const auto& row : rows_) print_row(row, widths, true);
      std::printf("%s\n", rule.c_str());
    } else {
      print_row(header_, widths, false);
      for (const auto& row : rows_) print_row(row, widths, false);
    }
  }

 private:
  static void print_row(const std::vector<std::string>& row, const std::vector<std::size_t>& widths,
                        bool boxed) {
    std::string line = boxed ? "|" : "";
    for (std::size_t i = 0; i < row.size(); ++i) {
      const bool last = i + 1 == row.size();
      if (boxed) {
        line += " " + row[i] + std::string(widths[i] - row[i].size(), ' ') + " |";
      } else {
        line += row[i] + (last ? "" : std::string(widths[i] - row[i].size() + 1, ' '));
      }
    }
    if (!boxed) line.erase(line.find_last_not_of(' ') + 1);  // no trailing blanks
    std::printf("%s\n", line.c_str());
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace kvctl
