// quill: train handwritten-character CNNs and use them. Each subcommand lives in its own cmd_*.cpp.
#include <exception>
#include <iostream>
#include <new>
#include <string>
#include <vector>

#include "apps/commands.h"
#include "kernels/backends.h"
#include "runtime/error.h"

namespace {

// Messages end up on one line, whatever produced them.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n' || c == '\r') c = ' ';
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

std::string join_arguments(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; ++i) out += (i ? " " : "") + std::string(argv[i]);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Quill: train convolutional networks on handwritten characters and read with them.", "quill");
  app.require_subcommand(1);
  app.fallthrough(false);
  std::vector<quill::Command> commands = {
      quill::add_train_command(app),   quill::add_eval_command(app),  quill::add_predict_command(app),
      quill::add_read_command(app),    quill::add_info_command(app),  quill::add_bench_command(app),
      quill::add_gradcheck_command(app), quill::add_serve_command(app), quill::add_export_command(app),
      quill::add_import_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    std::string where = "quill", names;
    for (const quill::Command& c : commands) {
      if (c.app->parsed()) where += " " + c.app->get_name();
      names += (names.empty() ? "" : ", ") + c.app->get_name();
    }
    if (where == "quill") {
      // No subcommand was recognised, and nothing but --help may come before one: CLI11 would only say
      // that a subcommand is required, even of a misspelt one.
      std::cerr << "quill: error: ";
      if (argc < 2) std::cerr << "a subcommand is required: one of " << names;
      else if (argv[1][0] == '-') std::cerr << "unknown option '" << argv[1] << "': expected a subcommand first, one of " << names;
      else std::cerr << "unknown subcommand '" << argv[1] << "': expected one of " << names;
      std::cerr << " (see 'quill --help')\n";
      return 2;
    }
    std::cerr << "quill: error: " << one_line(e.what()) << " (see '" << where << " --help')\n";
    return 2;
  }
  try {
    quill::init_backends();
    for (const quill::Command& c : commands)
      if (c.app->parsed()) return c.run(join_arguments(argc, argv));
    return 2;  // unreachable: a subcommand is required
  } catch (const std::bad_alloc&) {  // its what() is "std::bad_alloc"
    std::cerr << "quill: error: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "quill: error: " << one_line(e.what()) << "\n";
    return 1;
  }
}
