using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Duplex.SocketIO;

/// <summary>
/// How Socket.IO arguments meet System.Text.Json, in one place, the same for server and client. Every
/// call goes through <see cref="JsonSerializerOptions.GetTypeInfo(Type)"/>, so it works unchanged under
/// Native AOT: with reflection on (JIT, the default), an application's options without a resolver get
/// System.Text.Json's reflection resolver as always; with reflection off (AOT, trimming), the types
/// Duplex itself puts on the wire come from <see cref="SocketIOJsonContext"/>, and an application's own
/// types from the source-generated context it adds to its options.
/// </summary>
internal static class SocketIOJson
{
    /// <summary>A copy of the application's options with Duplex's converters first and, where needed, its resolver.</summary>
    public static JsonSerializerOptions CreateOptions(JsonSerializerOptions application, params JsonConverter[] converters)
    {
        var options = new JsonSerializerOptions(application);
        for (int i = 0; i < converters.Length; i++) options.Converters.Insert(i, converters[i]);
        // GetTypeInfo does not fill in a missing resolver, so a null one becomes what the serializer
        // would have used: the reflection resolver where reflection is on, an empty one under AOT
        // (the trimmer drops reflection then). Duplex's own types go last, after the application's.
        options.TypeInfoResolver ??= JsonSerializer.IsReflectionEnabledByDefault ? ReflectionResolver() : JsonTypeInfoResolver.Combine();
        options.TypeInfoResolverChain.Add(SocketIOJsonContext.Default);
        return options;
    }

    // Reached only where reflection is on (IsReflectionEnabledByDefault is the feature switch that
    // trimming and AOT turn off), as ASP.NET Core's own JSON options do.
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = "Guarded by JsonSerializer.IsReflectionEnabledByDefault.")]
    [UnconditionalSuppressMessage("AOT", "IL3050", Justification = "Guarded by JsonSerializer.IsReflectionEnabledByDefault.")]
    private static IJsonTypeInfoResolver ReflectionResolver() => new DefaultJsonTypeInfoResolver();

    public static void Write(Utf8JsonWriter writer, object? value, JsonSerializerOptions options)
    {
        if (value is null) writer.WriteNullValue();
        else JsonSerializer.Serialize(writer, value, TypeInfo(options, value.GetType()));
    }

    public static JsonElement ToElement(object? value, JsonSerializerOptions options) =>
        value is null
            ? JsonSerializer.SerializeToElement(null, SocketIOJsonContext.Default.Object)
            : JsonSerializer.SerializeToElement(value, TypeInfo(options, value.GetType()));

    public static JsonNode? ToNode(object value, JsonSerializerOptions options) =>
        JsonSerializer.SerializeToNode(value, TypeInfo(options, value.GetType()));

    public static T? Read<T>(JsonElement element, JsonSerializerOptions options) =>
        element.Deserialize((JsonTypeInfo<T>)TypeInfo(options, typeof(T)));

    // Options that came straight from an application (the public codecs take any) may have no resolver;
    // they get a prepared copy, made once per instance.
    private static readonly ConditionalWeakTable<JsonSerializerOptions, JsonSerializerOptions> Prepared = new();

    private static JsonTypeInfo TypeInfo(JsonSerializerOptions options, Type type) =>
        (options.TypeInfoResolver is null ? Prepared.GetValue(options, o => CreateOptions(o)) : options).GetTypeInfo(type);
}

/// <summary>The types Duplex's Socket.IO layer serializes itself, and those an application most often reads.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(object))]
[JsonSerializable(typeof(object[]))]
[JsonSerializable(typeof(JsonElement))]
[JsonSerializable(typeof(JsonNode))]
[JsonSerializable(typeof(JsonObject))]
[JsonSerializable(typeof(JsonArray))]
[JsonSerializable(typeof(JsonValue))]
[JsonSerializable(typeof(string))]
[JsonSerializable(typeof(bool))]
[JsonSerializable(typeof(int))]
[JsonSerializable(typeof(long))]
[JsonSerializable(typeof(double))]
[JsonSerializable(typeof(decimal))]
[JsonSerializable(typeof(byte[]))]
[JsonSerializable(typeof(ReadOnlyMemory<byte>))]
[JsonSerializable(typeof(Memory<byte>))]
[JsonSerializable(typeof(string[]))]
[JsonSerializable(typeof(List<string>))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(Dictionary<string, object>))]
[JsonSerializable(typeof(Dictionary<string, JsonElement>))]
internal sealed partial class SocketIOJsonContext : JsonSerializerContext;
