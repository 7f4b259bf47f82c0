using Duplex.Cli;

return args.Length == 0 ? Usage.Print(1) : args[0] switch
{
    "serve" => await ServeCommand.RunAsync(args[1..]),
    "connect" => await ConnectCommand.RunAsync(args[1..]),
    "listen" => await ListenCommand.RunAsync(args[1..]),
    "bench" => await BenchCommand.RunAsync(args[1..]),
    "-h" or "--help" or "help" => Usage.Print(0),
    _ => Usage.Print(1, $"unknown command '{args[0]}'"),
};
