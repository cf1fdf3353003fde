/** A ListObjectsV2 answer as the backend reads it, from the SDK's output or from the XML of a direct request. */
import { CorruptDataError } from "../../errors.ts";
import { xmlElements, xmlField } from "./xml-text.ts";

export interface ListingEntry {
  readonly Key?: string | undefined;
  readonly Size?: number | undefined;
  readonly ETag?: string | undefined;
  readonly LastModified?: Date | undefined;
}

export interface ListingPage {
  readonly Contents?: readonly ListingEntry[] | undefined;
  readonly CommonPrefixes?: readonly { readonly Prefix?: string | undefined }[] | undefined;
  readonly IsTruncated?: boolean | undefined;
  readonly NextContinuationToken?: string | undefined;
  /** "url" when the store percent-encoded the keys and prefixes (asked for with encoding-type=url). */
  readonly EncodingType?: string | undefined;
}

/** Whether `text` is an XML document whose root element is ListBucketResult (what every ListObjectsV2 success
 * answer is; an HTML page from a proxy or a web server on the wrong port is not). */
export function isListingDocument(text: string): boolean {
  return /^\uFEFF?\s*(<\?xml[^>]*\?>\s*)?(<!--[\s\S]*?-->\s*)*<ListBucketResult[\s>]/.test(text);
}

/**
 * The page a ListBucketResult document describes; undefined when `xml` is not one, or not one read whole here (an
 * entry without its key or size, fewer entries than its KeyCount, an entity that names no character): the caller
 * then reads the page through the SDK rather than miss an object.
 */
export function parseListing(xml: string): ListingPage | undefined {
  try {
    return readListing(xml);
  } catch {
    return undefined;
  }
}

function readListing(xml: string): ListingPage | undefined {
  if (!xml.includes("<ListBucketResult")) return undefined;
  const contents = xmlElements(xml, "Contents").map((entry): ListingEntry => {
    const size = xmlField(entry, "Size");
    const modified = xmlField(entry, "LastModified");
    return {
      Key: xmlField(entry, "Key"),
      Size: size === undefined ? undefined : Number(size),
      ETag: xmlField(entry, "ETag"),
      LastModified: modified === undefined ? undefined : new Date(modified),
    };
  });
  const prefixes = xmlElements(xml, "CommonPrefixes").map((entry) => ({ Prefix: xmlField(entry, "Prefix") }));
  // The entries are cut out first: a top-level field is then never read from inside one.
  const top = xml.replace(/<Contents>[\s\S]*?<\/Contents>|<CommonPrefixes>[\s\S]*?<\/CommonPrefixes>/g, "");
  if (contents.some((entry) => entry.Key === undefined || entry.Size === undefined || !Number.isSafeInteger(entry.Size))) return undefined;
  if (prefixes.some((entry) => entry.Prefix === undefined)) return undefined;
  const keyCount = xmlField(top, "KeyCount");
  const encoding = xmlField(top, "EncodingType");
  if (keyCount !== undefined && Number(keyCount) !== contents.length + prefixes.length) return undefined;
  return {
    Contents: contents,
    CommonPrefixes: prefixes,
    IsTruncated: xmlField(top, "IsTruncated") === "true",
    NextContinuationToken: xmlField(top, "NextContinuationToken"),
    ...(encoding === undefined ? {} : { EncodingType: encoding }),
  };
}

/**
 * The page with its keys and folder prefixes as stored. Listings ask for them percent-encoded: XML 1.0 cannot carry
 * a control character, so without it one key holding ESC comes back altered (MinIO sends U+FFFD) or makes the whole
 * answer unreadable (AWS). Only an answer that says it encoded them is decoded, so a store that ignores the request
 * still lists plain keys. "+" is a space there (MinIO writes spaces so; a "+" of the key comes as %2B). The
 * continuation token is never encoded.
 */
export function decodedListing(page: ListingPage, where: string): ListingPage {
  if (page.EncodingType?.toLowerCase() !== "url") return page;
  const decode = (text: string | undefined): string | undefined => {
    if (text === undefined) return undefined;
    try {
      return decodeURIComponent(text.replaceAll("+", " "));
    } catch (error) {
      throw new CorruptDataError(`The listing of ${where} holds a key that is not valid percent-encoded UTF-8: ${JSON.stringify(text)}.`, { path: where, cause: error });
    }
  };
  return {
    ...page,
    Contents: page.Contents?.map((entry) => ({ ...entry, Key: decode(entry.Key) })),
    CommonPrefixes: page.CommonPrefixes?.map((common) => ({ ...common, Prefix: decode(common.Prefix) })),
  };
}
