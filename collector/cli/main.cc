// syncwatch: the command-line view of the collector. Everything but argv
// handling lives in syncwatch_cli (collector/cli/cli.h).
#include <iostream>
#include <string>
#include <vector>

#include "collector/cli/cli.h"

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  return syncwatch::cli::RunCli(args, std::cout, std::cerr);
}
