/**
 * Inside the isolate: Node's util.format (printf-like %s %d %i %f %j %o %O %c %%, then the
 * remaining arguments inspected and joined by spaces), as console.* uses it.
 */
import { formatNumber, inspect } from "./inspect.ts";
import { isBuiltInConstructor } from "./inspect-types.ts";

function hasBuiltInToString(value: object): boolean {
  const v = value as Record<PropertyKey, unknown>;
  let checkToString = true;
  let checkToPrimitive = true;
  if (typeof v.toString !== "function") {
    if (typeof v[Symbol.toPrimitive] !== "function") return true;
    if (Object.prototype.hasOwnProperty.call(v, Symbol.toPrimitive)) return false;
    checkToString = false;
  } else if (Object.prototype.hasOwnProperty.call(v, "toString")) {
    return false;
  } else if (typeof v[Symbol.toPrimitive] !== "function") {
    checkToPrimitive = false;
  } else if (Object.prototype.hasOwnProperty.call(v, Symbol.toPrimitive)) {
    return false;
  }
  let pointer: object | null = value;
  do {
    pointer = Object.getPrototypeOf(pointer) as object | null;
    if (pointer === null) return true;
  } while (
    !(checkToString && Object.prototype.hasOwnProperty.call(pointer, "toString")) &&
    !(checkToPrimitive && Object.prototype.hasOwnProperty.call(pointer, Symbol.toPrimitive))
  );
  const descriptor = Object.getOwnPropertyDescriptor(pointer, "constructor");
  return descriptor !== undefined && isBuiltInConstructor(descriptor.value);
}

function tryStringify(arg: unknown): string {
  try {
    return JSON.stringify(arg);
  } catch (err) {
    if (err instanceof TypeError && /circular/i.test(err.message)) return "[Circular]";
    throw err;
  }
}

/** util.format: printf-like %s %d %i %f %j %o %O %c %%, then the rest joined by spaces. */
export function format(...args: unknown[]): string {
  const first = args[0];
  let a = 0;
  let str = "";
  let join = "";
  if (typeof first === "string") {
    if (args.length === 1) return first;
    let tempStr = "";
    let lastPos = 0;
    for (let i = 0; i < first.length - 1; i++) {
      if (first.charCodeAt(i) === 37) {
        const nextChar = first.charCodeAt(++i);
        if (a + 1 !== args.length) {
          switch (nextChar) {
            case 115: {
              const tempArg = args[++a];
              if (typeof tempArg === "number") tempStr = formatNumber(tempArg);
              else if (typeof tempArg === "bigint") tempStr = `${tempArg}n`;
              else if (typeof tempArg !== "object" || tempArg === null || !hasBuiltInToString(tempArg)) tempStr = String(tempArg);
              else tempStr = inspect(tempArg, { depth: 0, compact: 3 });
              break;
            }
            case 106:
              tempStr = tryStringify(args[++a]);
              break;
            case 100: {
              const tempNum = args[++a];
              if (typeof tempNum === "bigint") tempStr = `${tempNum}n`;
              else if (typeof tempNum === "symbol") tempStr = "NaN";
              else tempStr = formatNumber(Number(tempNum));
              break;
            }
            case 79:
              tempStr = inspect(args[++a]);
              break;
            case 111:
              tempStr = inspect(args[++a], { showHidden: true, depth: 4 });
              break;
            case 105: {
              const tempInteger = args[++a];
              if (typeof tempInteger === "bigint") tempStr = `${tempInteger}n`;
              else if (typeof tempInteger === "symbol") tempStr = "NaN";
              else tempStr = formatNumber(Number.parseInt(tempInteger as string));
              break;
            }
            case 102: {
              const tempFloat = args[++a];
              tempStr = typeof tempFloat === "symbol" ? "NaN" : formatNumber(Number.parseFloat(tempFloat as string));
              break;
            }
            case 99:
              a += 1;
              tempStr = "";
              break;
            case 37:
              str += first.slice(lastPos, i);
              lastPos = i + 1;
              continue;
            default:
              continue;
          }
          if (lastPos !== i - 1) str += first.slice(lastPos, i - 1);
          str += tempStr;
          lastPos = i + 1;
        } else if (nextChar === 37) {
          str += first.slice(lastPos, i);
          lastPos = i + 1;
        }
      }
    }
    if (lastPos !== 0) {
      a++;
      join = " ";
      if (lastPos < first.length) str += first.slice(lastPos);
    }
  }
  while (a < args.length) {
    const value = args[a];
    str += join;
    str += typeof value !== "string" ? inspect(value) : value;
    join = " ";
    a++;
  }
  return str;
}
